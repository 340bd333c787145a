#!/usr/bin/env bash
# Compiles CuratorCheck.java (javac, Debian's Curator 5.4 / ZooKeeper 3.8 jars; output in
# build/, redone when the source is newer) and runs it against host:port.
#   conformance/clients/curator/run.sh HOST:PORT
# Exit status: 0 when every check passed, 1 otherwise (2 on usage/compile errors).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: run.sh HOST:PORT}
J=/usr/share/java
cp="$J/curator-client.jar:$J/curator-framework.jar:$J/curator-recipes.jar:$J/zookeeper.jar"
cp="$cp:$J/zookeeper-jute.jar:$J/guava.jar:$J/slf4j-api.jar"
for j in ${cp//:/ } "$J/slf4j-nop.jar"; do
  [ -r "$j" ] || { echo "curator: missing $j (run scripts/install-test-deps)" >&2; exit 2; }
done
mkdir -p "$here/build"
if [ ! -f "$here/build/CuratorCheck.class" ] || [ "$here/CuratorCheck.java" -nt "$here/build/CuratorCheck.class" ]; then
  javac -nowarn -d "$here/build" -cp "$cp" "$here/CuratorCheck.java" || exit 2
fi
# slf4j-nop: Curator's and the ZooKeeper client's logging goes nowhere.
exec timeout 300 java -cp "$here/build:$cp:$J/slf4j-nop.jar" CuratorCheck "$target"
