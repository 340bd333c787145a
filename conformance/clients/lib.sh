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

# start_ensemble zk|rzk NAME: a fresh 3-member ensemble (scripts/ensemble-start: zoo.cfg
# `server.N` lines, myid files) in $CLIENTS_TMP/NAME; sets ENSEMBLE to its client connect string
# once every member reports Mode leader or follower (bounded: 90 s).
start_ensemble() {
  local kind=$1 dir="$CLIENTS_TMP/$2" rc=0 p
  [ "$kind" = zk ] || ensure_rzk
  ENSEMBLE=$(RZK_BIN=$RZK_BIN "$ROOT/scripts/ensemble-start" "$kind" "$dir") || rc=$?
  if [ -f "$dir/pids" ]; then
    while read -r p; do STARTED_PIDS+=("$p"); done < "$dir/pids"
  fi
  return "$rc"
}

# both_servers NAME [--zk-port P] [--rzk-port P] [--zk-servers S] [--rzk-servers S]: sets
# ZK_SERVER and RZK_SERVER (host:port, or a connect string with --*-servers) and, for single
# servers, ZK_PORT and RZK_PORT, starting a fresh real ZooKeeper and a fresh rzk for whichever
# was not given.
both_servers() {
  local name=$1 zk="" rzk=""
  shift
  ZK_SERVER="" RZK_SERVER=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --zk-port) zk=$2; shift 2 ;;
      --rzk-port) rzk=$2; shift 2 ;;
      --zk-servers) ZK_SERVER=$2; shift 2 ;;
      --rzk-servers) RZK_SERVER=$2; shift 2 ;;
      *) echo "usage: $0 [--zk-port P] [--rzk-port P] [--zk-servers S] [--rzk-servers S]" >&2; exit 2 ;;
    esac
  done
  if [ -z "$ZK_SERVER" ]; then
    if [ -n "$zk" ]; then ZK_PORT=$zk; else start_zk "$name-zk"; fi
    ZK_SERVER=127.0.0.1:$ZK_PORT
  fi
  if [ -z "$RZK_SERVER" ]; then
    if [ -n "$rzk" ]; then RZK_PORT=$rzk; else start_rzk "$name-rzk"; fi
    RZK_SERVER=127.0.0.1:$RZK_PORT
  fi
}

# compare_transcripts NAME WORKDIR COUNT: diffs WORKDIR/zk.txt against WORKDIR/rzk.txt (diff kept
# in WORKDIR/diff.txt); prints `NAME: COUNT commands, identical`, or the diff and a DIFFER line
# and exits 1.
compare_transcripts() {
  local name=$1 work=$2 count=$3
  if diff -u --label "zookeeper ($work/zk.txt)" --label "rzk ($work/rzk.txt)" "$work/zk.txt" "$work/rzk.txt" > "$work/diff.txt"; then
    echo "$name: $count commands, identical"
  else
    cat "$work/diff.txt"
    echo "$name: $count commands, transcripts DIFFER ($(grep -c '^[-+][^-+]' "$work/diff.txt") differing lines)"
    exit 1
  fi
}
