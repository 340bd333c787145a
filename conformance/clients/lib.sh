# Shared helpers for the real-client checks (sourced, not run).
#   start_zk   -> starts a fresh real ZooKeeper 3.8 (scripts/zk-start), sets ZK_PORT
#   start_rzk  -> starts a fresh rzk on a free loopback port, sets RZK_PORT
#   stop_started -> kills exactly the PIDs these functions started (also run on EXIT)
# Every server gets its own directory under $CLIENTS_TMP (a mktemp dir, removed on exit unless
# KEEP_TMP=1). Logs stay in those directories, never on the transcripts.

CLIENTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$CLIENTS_DIR/../.." && pwd)
RZK_BIN=${RZK_BIN:-$ROOT/target/release/rzk}
STARTED_PIDS=()
OWN_TMP=""
if [ -z "${CLIENTS_TMP:-}" ]; then CLIENTS_TMP=$(mktemp -d /tmp/rzk-clients.XXXXXX); OWN_TMP=1; fi

stop_started() {
  local p
  for p in "${STARTED_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${STARTED_PIDS[@]}"; do
    # bounded wait for each server we started (10 s), then SIGKILL
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

cleanup_clients() {
  stop_started
  if [ "${KEEP_TMP:-0}" != 1 ] && [ -n "${OWN_TMP:-}" ]; then rm -rf "$CLIENTS_TMP"; fi
}

ensure_rzk() {
  if [ ! -x "$RZK_BIN" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
  fi
}

# start_zk NAME: fresh real ZooKeeper in $CLIENTS_TMP/NAME; sets ZK_PORT.
start_zk() {
  local dir="$CLIENTS_TMP/$1"
  ZK_PORT=$("$ROOT/scripts/zk-start" "$dir")
  STARTED_PIDS+=("$(cat "$dir/zk.pid")")
}

# start_rzk NAME: fresh rzk (empty data dir) in $CLIENTS_TMP/NAME; sets RZK_PORT. Same settings
# as scripts/zk-start gives ZooKeeper: extended types (TTL) on, super digest super:test, all 4lw.
start_rzk() {
  local dir="$CLIENTS_TMP/$1" port pid
  ensure_rzk
  mkdir -p "$dir/data"
  for _ in 1 2 3; do
    port=$("$ROOT/scripts/free-port")
    cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
zookeeper.extendedTypesEnabled=true
zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
CFG
    RUST_LOG=${RUST_LOG:-warn} "$RZK_BIN" --config "$dir/zoo.cfg" >"$dir/rzk.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    echo "$pid" > "$dir/rzk.pid"
    for _ in $(seq 1 100); do
      if [ "$(printf ruok | nc -q 1 -w 1 127.0.0.1 "$port" 2>/dev/null)" = imok ]; then
        RZK_PORT=$port
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true   # port race or slow start: try another port
  done
  echo "rzk did not start; see $dir/rzk.log" >&2
  return 1
}

# start_rzk_ensemble NAME: a fresh 3-member rzk ensemble (zoo.cfg `server.N` lines, myid files)
# in $CLIENTS_TMP/NAME-N; sets RZK_ENSEMBLE to the client connect string once every member
# reports Mode leader or follower (bounded: 60 s).
start_rzk_ensemble() {
  local name=$1 i j pid ports=() peers=() elects=() dir line mode
  ensure_rzk
  for i in 1 2 3; do
    ports+=("$("$ROOT/scripts/free-port")"); peers+=("$("$ROOT/scripts/free-port")")
    elects+=("$("$ROOT/scripts/free-port")")
  done
  for i in 0 1 2; do
    dir="$CLIENTS_TMP/$name-$((i + 1))"
    mkdir -p "$dir/data"
    echo "$((i + 1))" > "$dir/data/myid"
    {
      printf 'tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%s\n' "$dir/data" "${ports[$i]}"
      printf 'clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n'
      printf 'zookeeper.extendedTypesEnabled=true\n'
      printf 'zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n'
      for j in 0 1 2; do
        printf 'server.%s=127.0.0.1:%s:%s\n' "$((j + 1))" "${peers[$j]}" "${elects[$j]}"
      done
    } > "$dir/zoo.cfg"
    RUST_LOG=${RUST_LOG:-warn,openraft=error} "$RZK_BIN" --config "$dir/zoo.cfg" >"$dir/rzk.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
  done
  for _ in $(seq 1 600); do
    line=""
    for i in 0 1 2; do
      mode=$(printf srvr | nc -q 1 -w 1 127.0.0.1 "${ports[$i]}" 2>/dev/null | grep '^Mode:' || true)
      case "$mode" in *leader*|*follower*) line="$line+" ;; esac
    done
    if [ "$line" = "+++" ]; then
      RZK_ENSEMBLE="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
      return 0
    fi
    sleep 0.1
  done
  echo "rzk ensemble did not form; see $CLIENTS_TMP/$name-*/rzk.log" >&2
  return 1
}

# both_servers NAME [--zk-port P] [--rzk-port P]: sets ZK_PORT and RZK_PORT, starting a fresh
# real ZooKeeper and a fresh rzk for whichever port was not given.
both_servers() {
  local name=$1 zk="" rzk=""
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --zk-port) zk=$2; shift 2 ;;
      --rzk-port) rzk=$2; shift 2 ;;
      *) echo "usage: $0 [--zk-port P] [--rzk-port P]" >&2; exit 2 ;;
    esac
  done
  if [ -n "$zk" ]; then ZK_PORT=$zk; else start_zk "$name-zk"; fi
  if [ -n "$rzk" ]; then RZK_PORT=$rzk; else start_rzk "$name-rzk"; fi
}
