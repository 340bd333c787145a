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
exec timeout 900 /usr/bin/python3 -m pytest -q -p no:cacheprovider \
  --deselect kazoo/tests/test_utils.py::TestCreateTCPConnection::test_slow_connect \
  "$@" /usr/lib/python3/dist-packages/kazoo/tests
