# Shared helpers for scripts/bench-vs-zk and scripts/bench-memory (sourced, not run).
# Starts/stops real ZooKeeper 3.8 (scripts/zk-start) and rzk with equivalent settings: same
# tickTime, dataDir on the same disk (both under $BENCH_DIR), forceSync left at its default (yes).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RZK=${RZK_BIN:-$root/target/release/rzk}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
GEN_CPU=${BENCH_GEN_CPU:-1}

# rzk_start DIR PORT -> sets RZK_PID; waits (bounded, 60 s) for "rzk listening on".
rzk_start() {
  local dir=$1 port=$2
  mkdir -p "$dir/data"
  cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=*
admin.enableServer=false
${RZK_EXTRA_CFG:-}
CFG
  : > "$dir/rzk.out"
  RUST_LOG=${RZK_LOG:-warn,openraft=error} taskset -c "$SERVER_CPU" "$RZK" --config "$dir/zoo.cfg" \
    >"$dir/rzk.out" 2>"$dir/rzk.err" &
  RZK_PID=$!
  echo "$RZK_PID" > "$dir/rzk.pid"
  for _ in $(seq 1 600); do
    grep -q "rzk listening on" "$dir/rzk.out" 2>/dev/null && return 0
    kill -0 "$RZK_PID" 2>/dev/null || { echo "rzk exited; see $dir/rzk.err" >&2; return 1; }
    sleep 0.1
  done
  echo "rzk did not start within 60 s" >&2
  return 1
}

# rzk_stop DIR: SIGTERM the recorded PID, then SIGKILL after 10 s.
rzk_stop() {
  local pid
  pid=$(cat "$1/rzk.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# zk_start DIR PORT: real ZooKeeper pinned to SERVER_CPU (java inherits the affinity).
zk_start() {
  taskset -c "$SERVER_CPU" "$root/scripts/zk-start" "$1" "$2" >/dev/null
}

zk_stop() { "$root/scripts/zk-stop" "$1"; }

# bench ARGS...: the generator pinned to GEN_CPU, JSON on stdout.
bench() {
  taskset -c "$GEN_CPU" "$RZK" bench "$@" --json --quiet
}

# machine_info: a markdown list describing this machine and the versions.
machine_info() {
  local disk
  disk=$(findmnt -n -T "$BENCH_DIR" -o SOURCE,FSTYPE | tr -s ' ')
  echo "- machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r), $(free -g | awk '/^Mem/{print $2}') GiB RAM"
  echo "- disk: data directories of both servers under \`$BENCH_DIR\` ($disk$(lsblk -dn -o ROTA "$(findmnt -n -T "$BENCH_DIR" -o SOURCE)" 2>/dev/null | sed 's/^ *0$/, non-rotational/;s/^ *1$/, rotational/'))"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- rzk: $("$RZK" --version) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ', dirty tree'))"
  echo "- ZooKeeper: $(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo unknown) (Debian package), $(java -version 2>&1 | head -1)${ZK_JVMFLAGS:+, ZK_JVMFLAGS=$ZK_JVMFLAGS}"
  echo "- pinning: each server on CPU $SERVER_CPU, the generator on CPU $GEN_CPU (\`taskset\`); the generator keeps its CPU from halting between a request and its reply (SCHED_IDLE spinner, \`--idle-poll-micros\`, default 200), and a lone session polls its socket for its reply (non-blocking \`recv\`, \`--busy-poll-micros\`, default 2000) instead of sleeping in epoll, the same for both servers"
}

# replace_section FILE NAME CONTENT_FILE: put CONTENT between <!-- NAME:begin --> and
# <!-- NAME:end --> in FILE (appending the markers at the end if absent).
replace_section() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys, re
path, name, content = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
try:
    text = open(path).read()
except FileNotFoundError:
    text = ""
block = f"{begin}\n{content}\n{end}"
if begin in text and end in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text)
PY
}

# selected LABEL: whether BENCH_ONLY (space-separated labels; empty = all) includes LABEL.
selected() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

# run_all NAME SERVER: every selected WORKLOADS row ("label|bench args") against SERVER, one JSON
# per row in $BENCH_DIR/NAME-LABEL.json ({"failed": true} when the run fails).
run_all() { # SERVER_NAME SERVER (host:port or a connect string)
  local name=$1 server=$2 w label args
  for w in "${WORKLOADS[@]}"; do
    label=${w%%|*}; args=${w#*|}
    selected "$label" || continue
    echo "  $name $label" >&2
    # shellcheck disable=SC2086
    if ! bench $args --server "$server" --duration "$DUR" --warmup "$WARM" \
        > "$BENCH_DIR/$name-$label.json" 2> "$BENCH_DIR/$name-$label.err"; then
      echo "    failed: $(tail -1 "$BENCH_DIR/$name-$label.err")" >&2
      echo '{"failed": true}' > "$BENCH_DIR/$name-$label.json"
    fi
  done
}
