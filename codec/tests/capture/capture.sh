#!/usr/bin/env bash
# Regenerates codec/tests/vectors/*.vec from a real ZooKeeper 3.8 and its Java client.
#
#   codec/tests/capture/capture.sh [OUT_DIR]     (default: codec/tests/vectors)
#
# Starts ZooKeeper with scripts/zk-start in a temp dir, puts proxy.py in front of it, drives
# the Java client (GoldenDriver.java, compiled here against /usr/share/java/zookeeper*.jar)
# and raw_client.py through the proxy, then extract.py turns the frame log into vector files.
# Needs: Debian's zookeeper package (3.8), a JDK (javac), python3. Loopback only; every wait
# is bounded; only the processes started here are stopped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/codec/tests/vectors}
work=$(mktemp -d /tmp/zk-golden.XXXXXX)
export ZOO_LOG_DIR=$work/logs
mkdir -p "$ZOO_LOG_DIR" "$work/classes"
proxy_pid=

cleanup() {
  if [ -n "$proxy_pid" ]; then
    touch "$work/stop"
    for _ in $(seq 1 50); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$proxy_pid" 2>/dev/null || true
  fi
  "$root/scripts/zk-stop" "$work/zk" || true
}
trap cleanup EXIT

cp="/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar"
javac -nowarn -cp "$cp" -d "$work/classes" "$here/GoldenDriver.java"

zk_port=$("$root/scripts/zk-start" "$work/zk")
echo "zookeeper on 127.0.0.1:$zk_port (work dir $work)" >&2

python3 "$here/proxy.py" --upstream "127.0.0.1:$zk_port" --log "$work/frames.log" \
  --port-file "$work/proxy.port" --drop-file "$work/drop" --stop-file "$work/stop" \
  --max-seconds 300 &
proxy_pid=$!
for _ in $(seq 1 100); do [ -f "$work/proxy.port" ] && break; sleep 0.1; done
proxy_port=$(cat "$work/proxy.port")
echo "proxy on 127.0.0.1:$proxy_port" >&2

: > "$work/steps.tsv"
timeout 180 java -cp "$work/classes:$cp" GoldenDriver "127.0.0.1:$proxy_port" "$work/drop" "$work/steps.tsv"
timeout 60 python3 "$here/raw_client.py" "127.0.0.1:$proxy_port" "$work/steps.tsv"
sleep 0.5

python3 "$here/extract.py" "$work/frames.log" "$work/steps.tsv" "$out"
echo "frame log kept in $work/frames.log" >&2
