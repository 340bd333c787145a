#!/usr/bin/env bash
# Runs kazoo's own test suite (Debian's python3-kazoo ships kazoo/tests) against rzk, through
# the `java` stand-in in this directory. Prints pytest's summary line.
#   conformance/kazoo-suite/run.sh [pytest args...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export RZK_BIN=${RZK_BIN:-$root/target/release/rzk}
[ -x "$RZK_BIN" ] || (cd "$root" && cargo build --release --quiet)
export PATH="$here:$PATH"
export ZOOKEEPER_VERSION=3.8.0 ZOOKEEPER_CLUSTER_SIZE=1 ZOOKEEPER_CLASSPATH=rzk ZOOKEEPER_PORT_OFFSET=${ZOOKEEPER_PORT_OFFSET:-21000}
export RUST_LOG=${RUST_LOG:-warn}
cd "$(mktemp -d)"
# Deselected (conformance/README.md says why): they fail on a 1-node real ZooKeeper too
# (reconfig, read-only mode and update_host_list need 3 servers), need 127.0.0.1:2181 free
# (slow_connect), or need a server with SASL configured, which rzk does not offer (the SASL
# classes: against a server without SASL, ZooKeeper and rzk alike answer each SASL packet with
# an empty token, and kazoo keeps sending them).
t=/usr/lib/python3/dist-packages/kazoo/tests
skip="test_slow_connect or test_update_host_list or TestReconfig"
skip="$skip or (TestReadOnlyMode and test_read_only) or SASL"
exec timeout 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider -k "not ($skip)" "$@" $t
