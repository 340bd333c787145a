#!/usr/bin/env bash
# Real-client checks against rzk (conformance/README.md, "Real clients"):
#   zkcli    zkCli.sh script transcript, real ZooKeeper vs rzk (zkcli/compare.sh), standalone
#            and as 3-member ensembles
#   cclient  cli_mt batch commands, real ZooKeeper vs rzk (cclient/run.sh)
#   curator  Curator recipes with assertions, against rzk standalone and a 3-member rzk
#            ensemble (curator/run.sh)
#   conformance/clients/run-rzk.sh [--also-zk]
# --also-zk also runs the Curator checks against a real ZooKeeper (a check of the checks).
# Every server is fresh (own mktemp directory, loopback, free port) and killed on exit; only
# PIDs started here are killed. Prints one summary line per client; exit status 1 if any failed.
# KEEP_TMP=1 keeps the work directory (transcripts, diffs, server logs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
also_zk=0
case "${1:-}" in
  --also-zk) also_zk=1 ;;
  "") ;;
  *) echo "usage: $0 [--also-zk]" >&2; exit 2 ;;
esac
export CLIENTS_TMP
CLIENTS_TMP=$(mktemp -d /tmp/rzk-clients.XXXXXX)
. "$here/lib.sh"
OWN_TMP=1
trap cleanup_clients EXIT
ensure_rzk

failures=0
summary=()
# run_check NAME CMD...: output to $CLIENTS_TMP/NAME.out; the last line is the summary; on
# failure the whole output (diff or FAIL lines) is shown.
run_check() {
  local name=$1 rc=0 line
  shift
  "$@" > "$CLIENTS_TMP/$name.out" 2>&1 || rc=$?
  line=$(tail -n 1 "$CLIENTS_TMP/$name.out")
  if [ "$rc" != 0 ]; then
    failures=$((failures + 1))
    echo "--- $name failed (exit $rc); output:"
    grep -v '^PASS ' "$CLIENTS_TMP/$name.out" | head -n 200
    summary+=("$line [FAILED]")
  else
    summary+=("$line")
  fi
}

start_zk zkcli-zk
start_rzk zkcli-rzk
run_check zkcli "$here/zkcli/compare.sh" --zk-port "$ZK_PORT" --rzk-port "$RZK_PORT"
stop_started

start_zk cclient-zk
start_rzk cclient-rzk
run_check cclient "$here/cclient/run.sh" --zk-port "$ZK_PORT" --rzk-port "$RZK_PORT"
stop_started

if [ "$also_zk" = 1 ]; then
  start_zk curator-zk
  run_check curator-zk "$here/curator/run.sh" "127.0.0.1:$ZK_PORT"
  summary[-1]="${summary[-1]} (against real ZooKeeper, not rzk)"
  stop_started
fi
start_rzk curator-rzk
run_check curator "$here/curator/run.sh" "127.0.0.1:$RZK_PORT"
stop_started

# The same zkCli script against a 3-member real ZooKeeper ensemble and a 3-member rzk ensemble
# (connect strings naming all three members), then the Curator program against the rzk one.
start_ensemble zk zkcli-ens-zk
zk_ensemble=$ENSEMBLE
start_ensemble rzk zkcli-ens-rzk
run_check zkcli-ensemble "$here/zkcli/compare.sh" --zk-servers "$zk_ensemble" --rzk-servers "$ENSEMBLE"
summary[-1]="${summary[-1]} (3-member ensembles)"
stop_started

start_ensemble rzk curator-ens
run_check curator-ensemble "$here/curator/run.sh" "$ENSEMBLE"
summary[-1]="${summary[-1]} (3-member rzk ensemble)"
stop_started

printf '%s\n' "${summary[@]}"
[ "$failures" = 0 ]
