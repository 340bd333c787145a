#!/usr/bin/env bash
# The ZooKeeper C client's CLI (cli_mt from zookeeper-bin) in batch mode, one session per line
# of commands.txt (`cli_mt -h 127.0.0.1:PORT -c 'CMD'`), against a fresh real ZooKeeper and a
# fresh rzk; the transcripts are normalised (../normalise.py cclient: zxids, times, session
# ids, timings) and diffed.
#   conformance/clients/cclient/run.sh [--zk-port P] [--rzk-port P]
# Without ports it starts both servers itself. Prints `cclient: N commands, identical` (exit 0)
# or the diff (exit 1).
# Not in commands.txt: `stat`/`exists`/`wexists`/`myid` never end in batch mode (the completion
# does not set cli_mt's shutdown flag; same against real ZooKeeper), `addauth` has nothing to
# check within one batch command, `reconfig` needs an ensemble.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
trap cleanup_clients EXIT
cli=/usr/lib/zookeeper/bin/cli_mt
[ -x "$cli" ] || { echo "cclient: $cli missing (package zookeeper-bin)" >&2; exit 2; }

both_servers cclient "$@"
zk_port=$ZK_PORT rzk_port=$RZK_PORT

work="$CLIENTS_TMP/cclient"
mkdir -p "$work"
mapfile -t cmds < <(grep -v '^[[:space:]]*$' "$here/commands.txt")

run_one() { # NAME PORT
  local name=$1 port=$2 c rc
  : > "$work/$name.raw"
  for c in "${cmds[@]}"; do
    echo "== $c" >> "$work/$name.raw"
    # cli_mt prints everything on stderr (stdout stays empty); both go to the transcript.
    rc=0
    timeout 20 "$cli" -h "127.0.0.1:$port" -c "$c" >> "$work/$name.raw" 2>&1 || rc=$?
    [ "$rc" = 0 ] || echo "(cli_mt exit status $rc)" >> "$work/$name.raw"
  done
  python3 "$here/../normalise.py" cclient "$work/noise.log" < "$work/$name.raw" > "$work/$name.txt"
}
run_one zk "$zk_port"
run_one rzk "$rzk_port"

compare_transcripts cclient "$work" "${#cmds[@]}"
