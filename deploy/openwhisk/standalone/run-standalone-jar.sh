#!/usr/bin/env bash
# run-standalone-jar.sh [JAR] [extra standalone flags...] — start Apache OpenWhisk's standalone
# server with wasmwhisk's runtimes manifest and raised throttles, on http://localhost:3233.
# The jar comes from apache/openwhisk (./gradlew :core:standalone:build → bin/openwhisk-standalone.jar);
# Java 11+ and a running Docker engine are needed, and `make images` must have built the images.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jar=${1:-${OPENWHISK_STANDALONE_JAR:-openwhisk-standalone.jar}}
[ $# -gt 0 ] && shift
[ -f "$jar" ] || { echo "run-standalone-jar: $jar not found (set OPENWHISK_STANDALONE_JAR)" >&2; exit 1; }
for img in wasmwhisk/wasm-runtime:0.1 wasmwhisk/native-runtime:0.1; do
	docker image inspect "$img" >/dev/null 2>&1 || echo "run-standalone-jar: warning: $img missing (make images)" >&2
done
exec java -jar "$jar" -m "$here/../runtimes.json" -c "$here/wasmwhisk-standalone.conf" "$@"
