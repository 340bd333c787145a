#!/usr/bin/env bash
# Runs script.txt through zkCli.sh (stdin script mode, one session; `@SERVER@` in the script is
# replaced by the server's host:port for `connect`) against a fresh real ZooKeeper and a fresh
# rzk, normalises what must differ (../normalise.py) and diffs the two transcripts.
#   conformance/clients/zkcli/compare.sh [--zk-port P] [--rzk-port P]
#   conformance/clients/zkcli/compare.sh --zk-servers CONNECT --rzk-servers CONNECT  (ensembles)
# Without ports it starts both servers itself (fresh, killed on exit); with ports the servers
# must be fresh (nothing created yet), since zxid offsets, sequence numbers and child counts of
# / are compared. Prints `zkcli: N commands, identical` (exit 0) or the diff (exit 1).
# Transcripts are kept in $CLIENTS_TMP/zkcli/ (KEEP_TMP=1 keeps the directory).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
trap cleanup_clients EXIT

both_servers zkcli "$@"

work="$CLIENTS_TMP/zkcli"
mkdir -p "$work/logs"
script="$here/script.txt"
ncmd=$(grep -cv '^[[:space:]]*$' "$script")

run_one() { # NAME SERVER (host:port or a connect string)
  local name=$1 server=$2
  # zkCli prints results on stdout and "Created ..."/errors on stderr: both go to the
  # transcript, in order; log4j/SLF4J output is split off by normalise.py into noise.log.
  sed "s/@SERVER@/$server/g" "$script" |
    ZOO_LOG_DIR="$work/logs" CLIENT_JVMFLAGS="-Dzookeeper.log.dir=$work/logs" \
    timeout 120 /usr/share/zookeeper/bin/zkCli.sh -server "$server" \
    > "$work/$name.raw" 2>&1 || echo "zkCli exited with status $? against $name" >> "$work/$name.raw"
  python3 "$here/../normalise.py" zkcli "$work/noise.log" < "$work/$name.raw" > "$work/$name.txt"
}
run_one zk "$ZK_SERVER"
run_one rzk "$RZK_SERVER"

compare_transcripts zkcli "$work" "$ncmd"
