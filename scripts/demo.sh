#!/usr/bin/env bash
# demo.sh — the project's main job (`make demo`): MobileNet as a native/blackbox action against the
# same source built as wasm:0.1, cold and warm, on the embedded standalone OpenWhisk.
#
#   1. builds bin/ (actionproxy, wasmwhisk, loadgen) and the MobileNet action natively and for wasip1,
#      each packed with the model files as an action zip;
#   2. builds the Docker images when a Docker engine answers (MobileNet blackbox image);
#   3. runs loadgen twice, each time with the embedded standalone OpenWhisk started inside loadgen on
#      127.0.0.1:3233 (docker backend if available, else process; no stem cells, so every cold start
#      is a real one for both variants): a cold sweep (fresh copy of the action per invocation) at
#      concurrency 1..5, a short cold probe of the module compiled at /init against the precompiled
#      one, then a warm run, all through the OpenWhisk REST API;
#   5. writes results/<timestamp>/: cold/ and warm/ (raw.csv, raw.json, summary.md, plots) and
#      README.md with the tables and the artifact sizes; and refreshes the results section of
#      docs/benchmarking.md.
#
# Environment (all optional):
#   DEMO_OUT            output directory                  (default results/<UTC timestamp>)
#   DEMO_BACKEND        docker | process                  (default docker when `docker info` works)
#   DEMO_LEVELS         cold sweep levels                 (default 1..5)
#   DEMO_WARM_LEVELS    warm run levels                   (default 1,2,4)
#   DEMO_WARM_COUNT     measured warm invocations/level   (default 8)
#   DEMO_WARM_WARMUP    warm-up invocations per level     (default 4)
#   DEMO_JIT_SWEEP      1 to include the /init-compiled wasm action in the cold sweep (default 0)
#   DEMO_UPDATE_DOCS    1 to rewrite docs/benchmarking.md's results section (default 1)
#   WASMWHISK_MODEL_DIR model directory                   (default ./models, then ../shared/models)
#   GO                  go command                        (default go)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}
stamp=$(date -u +%Y%m%d-%H%M%S)
out=${DEMO_OUT:-results/$stamp}
levels=${DEMO_LEVELS:-1..5}
warm_levels=${DEMO_WARM_LEVELS:-1,2,4}
warm_count=${DEMO_WARM_COUNT:-8}
warm_warmup=${DEMO_WARM_WARMUP:-4}
apihost=http://127.0.0.1:3233
began=$(date +%s)

say() { echo "demo [$(($(date +%s) - began))s]: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# --- model ----------------------------------------------------------------------------------------
models=${WASMWHISK_MODEL_DIR:-}
if [ -z "$models" ]; then
	for d in "$root/models" "$root/../shared/models"; do
		if [ -f "$d/mobilenetv2-1.0-224.onnx" ]; then models=$d; break; fi
	done
fi
[ -n "$models" ] && [ -f "$models/mobilenetv2-1.0-224.onnx" ] && [ -f "$models/imagenet_labels.txt" ] ||
	die "no MobileNet model: set WASMWHISK_MODEL_DIR to a directory with mobilenetv2-1.0-224.onnx and imagenet_labels.txt"
export WASMWHISK_MODEL_DIR=$models
say "model from $models"

# --- build ----------------------------------------------------------------------------------------
mkdir -p bin build/demo "$out"
say "building bin/loadgen, bin/actionproxy and bin/wasmwhisk-compile"
CGO_ENABLED=1 "$GO" build -trimpath -o bin/ ./cmd/loadgen ./cmd/actionproxy ./cmd/wasmwhisk-compile
say "building the MobileNet action natively and for wasip1"
CGO_ENABLED=0 "$GO" build -trimpath -o build/demo/mobilenet ./actions/mobilenet
# The wasm build is a WASI reactor (-buildmode=c-shared): one instance per container, made at /init,
# with the model loaded then and kept across warm activations, as the native process keeps it.
# -tags nn_inguest: the model runs inside the guest (the default build hands it to wasi-nn).
GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 "$GO" build -trimpath -tags nn_inguest -buildmode=c-shared -o build/demo/mobilenet.wasm ./actions/mobilenet
say "building the hello action natively and for wasip1 (where start-up is all there is)"
CGO_ENABLED=0 "$GO" build -trimpath -o build/demo/hello ./actions/hello
GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 "$GO" build -trimpath -buildmode=c-shared -o build/demo/hello.wasm ./actions/hello
bin/wasmwhisk-compile -o build/demo/hello.cwasm build/demo/hello.wasm

# Action zips: the executable (exec) or module (main.wasm) beside the model, its sidecar and labels.
pack() { # pack ZIP ENTRY FILE
	local zip=$1 entry=$2 file=$3 stage
	stage=$(mktemp -d)
	cp "$file" "$stage/$entry"
	cp "$models/mobilenetv2-1.0-224.onnx" "$models/imagenet_labels.txt" "$stage/"
	cat >"$stage/model.json" <<-'JSON'
	{"model":"mobilenetv2-1.0-224.onnx","layout":"NCHW","width":224,"height":224,"mean":[128,128,128],"std":[128,128,128],"labels":"imagenet_labels.txt","label_offset":0,"softmax":false}
	JSON
	rm -f "$zip"
	if command -v zip >/dev/null; then
		(cd "$stage" && zip -q -X "$root/$zip" "$entry" model.json mobilenetv2-1.0-224.onnx imagenet_labels.txt)
	else
		(cd "$stage" && python3 -m zipfile -c "$root/$zip" "$entry" model.json mobilenetv2-1.0-224.onnx imagenet_labels.txt)
	fi
	rm -rf "$stage"
}
pack build/demo/mobilenet-native.zip exec build/demo/mobilenet
pack build/demo/mobilenet-wasm.zip main.wasm build/demo/mobilenet.wasm
# The same archive with the module compiled ahead of time for the runtime's engine (as WOW ships
# its modules): /init deserialises native code instead of compiling.
say "precompiling the wasm action (wasmwhisk-compile)"
bin/wasmwhisk-compile -o build/demo/mobilenet-wasm-aot.zip build/demo/mobilenet-wasm.zip

# --- backend --------------------------------------------------------------------------------------
backend=${DEMO_BACKEND:-}
if [ -z "$backend" ]; then
	if command -v docker >/dev/null && docker info >/dev/null 2>&1; then backend=docker; else backend=process; fi
fi
sizes_file="$out/image-sizes.tsv"
: >"$sizes_file"
case $backend in
docker)
	say "building the Docker images (deploy/docker/build-images.sh)"
	IMAGE_SIZES_FILE="$sizes_file" bash deploy/docker/build-images.sh mobilenet wasm-runtime native-runtime >&2
	native_deploy="mobilenet-native=blackbox@wasmwhisk/mobilenet:${IMAGE_TAG:-0.1}"
	native_what="blackbox image wasmwhisk/mobilenet:${IMAGE_TAG:-0.1}"
	;;
process)
	native_deploy="mobilenet-native=native:0.1@build/demo/mobilenet-native.zip"
	native_what="native:0.1 actionloop executable (process backend)"
	;;
*) die "DEMO_BACKEND must be docker or process" ;;
esac

# --- standalone -----------------------------------------------------------------------------------
# Each loadgen run starts the embedded standalone in its own process (-standalone) with the chosen
# backend and no stem cells, deploys the two actions (-deploy) and stops it at the end.
if curl -fsS -o /dev/null "$apihost/api/v1" 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/3233) 2>/dev/null; then
	die "something already listens on 127.0.0.1:3233; stop it first (the demo starts its own standalone)"
fi

# --- measure --------------------------------------------------------------------------------------
common=(-standalone -standalone-backend "$backend" -proxy-binary bin/actionproxy
	-deploy "$native_deploy,memory=512" -deploy "mobilenet-wasm=wasm:0.1@build/demo/mobilenet-wasm.zip,memory=512"
	-deploy "mobilenet-wasm-aot=wasm:0.1@build/demo/mobilenet-wasm-aot.zip,memory=512")
# The sweeps compare the native action with the precompiled wasm one; compiling the module at /init
# (mobilenet-wasm) costs tens of seconds per cold start on 2 cores, so it gets a short cold probe of
# its own instead of the whole sweep (set DEMO_JIT_SWEEP=1 to sweep it too).
sweep_actions=mobilenet-native,mobilenet-wasm-aot
[ "${DEMO_JIT_SWEEP:-0}" = 1 ] && sweep_actions=mobilenet-native,mobilenet-wasm-aot,mobilenet-wasm
cold_cmd=(bin/loadgen run "${common[@]}" -actions "$sweep_actions" -concurrency "$levels" -cold -out "$out/cold")
jit_cmd=(bin/loadgen run "${common[@]}" -actions mobilenet-wasm-aot,mobilenet-wasm -concurrency 1 -cold -repeat 2 -out "$out/jit")
warm_cmd=(bin/loadgen run "${common[@]}" -actions "$sweep_actions" -concurrency "$warm_levels"
	-count "$warm_count" -warmup "$warm_warmup" -out "$out/warm")
say "cold sweep: ${cold_cmd[*]}"
"${cold_cmd[@]}" | tee "$out/cold.txt"
say "cold probe, module compiled at /init vs precompiled: ${jit_cmd[*]}"
"${jit_cmd[@]}" | tee "$out/jit.txt"
say "warm run: ${warm_cmd[*]}"
"${warm_cmd[@]}" | tee "$out/warm.txt"

# The same precompiled wasm action on the WOW-style wasm host backend: each "container" is a module
# instance inside the standalone's own process, so a cold start creates no container at all.
host=(-standalone -standalone-backend wasmhost -deploy "mobilenet-wasm-aot=wasm:0.1@build/demo/mobilenet-wasm-aot.zip,memory=512")
host_cold_cmd=(bin/loadgen run "${host[@]}" -actions mobilenet-wasm-aot -concurrency "$levels" -cold -out "$out/wasmhost-cold")
host_warm_cmd=(bin/loadgen run "${host[@]}" -actions mobilenet-wasm-aot -concurrency "$warm_levels"
	-count "$warm_count" -warmup "$warm_warmup" -out "$out/wasmhost-warm")
# hello: a trivial action, so that a cold start is nothing but the platform's start-up cost.
hello=(-standalone -standalone-backend "$backend" -proxy-binary bin/actionproxy
	-deploy "hello-native=native:0.1@build/demo/hello" -deploy "hello-wasm=wasm:0.1@build/demo/hello.cwasm")
hello_cmd=(bin/loadgen run "${hello[@]}" -actions hello-native,hello-wasm -concurrency "$levels" -cold -out "$out/hello-cold")
hello_host_cmd=(bin/loadgen run -standalone -standalone-backend wasmhost -deploy "hello-wasm=wasm:0.1@build/demo/hello.cwasm"
	-actions hello-wasm -concurrency "$levels" -cold -out "$out/hello-wasmhost-cold")
say "hello, cold sweep ($backend): ${hello_cmd[*]}"
"${hello_cmd[@]}" | tee "$out/hello-cold.txt"
say "hello, cold sweep (wasm host): ${hello_host_cmd[*]}"
"${hello_host_cmd[@]}" | tee "$out/hello-wasmhost-cold.txt"

say "wasm host, cold sweep: ${host_cold_cmd[*]}"
"${host_cold_cmd[@]}" | tee "$out/wasmhost-cold.txt"
say "wasm host, warm run: ${host_warm_cmd[*]}"
"${host_warm_cmd[@]}" | tee "$out/wasmhost-warm.txt"

# --- report ---------------------------------------------------------------------------------------
size() { stat -c %s "$1"; }
human() { awk -v b="$1" 'BEGIN { split("B KiB MiB GiB", u); i = 1; while (b >= 1024 && i < 4) { b /= 1024; i++ } printf (i == 1 ? "%d %s" : "%.1f %s"), b, u[i] }'; }
{
	echo "# MobileNet: native vs wasm:0.1 on the embedded standalone"
	echo
	echo "Made by \`scripts/demo.sh\` (\`make demo\`) on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores,"
	echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), backend **$backend**; $("$GO" version | cut -d' ' -f3)."
	echo "mobilenet-native is the $native_what; mobilenet-wasm is the same source built for wasip1 as a WASI reactor"
	echo "(kind wasm:0.1; model loaded at /init and kept across warm runs, like the native process), compiled by the"
	echo "runtime at /init; mobilenet-wasm-aot is that archive precompiled by wasmwhisk-compile."
	echo "Each action is deployed with memory 512 MB: with the 2048 MB container budget at most 4 run at once,"
	echo "so at concurrency 5 one activation waits for a container (waitTime)."
	echo "The standalone runs inside loadgen (\`-standalone\`) with no stem cells, so a cold start creates a container and sends /init."
	echo "Under Docker, wasm:0.1 containers share a volume with the runtime's compiled-module and unpacked-archive cache"
	echo "(as \`wasmwhisk standalone\` does by default, and as blackbox containers share their image's layers); on a"
	echo "real OpenWhisk cluster there is no such volume and every new container unpacks the action zip again."
	echo
	echo "Commands:"
	echo
	echo '```'
	echo "${cold_cmd[*]}"
	echo "${jit_cmd[*]}"
	echo "${warm_cmd[*]}"
	echo "${host_cold_cmd[*]}"
	echo "${host_warm_cmd[*]}"
	echo "${hello_cmd[*]}"
	echo "${hello_host_cmd[*]}"
	echo '```'
	echo
	echo "## Artifacts"
	echo
	echo "| artifact | bytes | size |"
	echo "| --- | ---: | ---: |"
	for f in build/demo/mobilenet build/demo/mobilenet.wasm build/demo/mobilenet-native.zip build/demo/mobilenet-wasm.zip \
		build/demo/mobilenet-wasm-aot.zip \
		"$models/mobilenetv2-1.0-224.onnx" bin/actionproxy; do
		echo "| \`$(basename "$f")\` | $(size "$f") | $(human "$(size "$f")") |"
	done
	while IFS=$'\t' read -r image bytes; do
		[ -n "$image" ] && echo "| image \`$image\` | $bytes | $(human "$bytes") |"
	done <"$sizes_file"
	echo
	echo "## Cold starts (every measured activation a fresh copy of the action)"
	echo
	sed -n '/^## mobilenet/,$p' "$out/cold/summary.md" | sed 's/^## /### /; s/](\([a-z_]*\.png\))/](cold\/\1)/'
	echo
	echo "## Cold starts: module compiled at /init vs precompiled (concurrency 1, two repeats)"
	echo
	sed -n '/^## mobilenet/,$p' "$out/jit/summary.md" | sed 's/^## /### /; s/](\([a-z_]*\.png\))/](jit\/\1)/'
	echo
	echo "## Warm (after $warm_warmup warm-up invocations per level)"
	echo
	sed -n '/^## mobilenet/,$p' "$out/warm/summary.md" | sed 's/^## /### /; s/](\([a-z_]*\.png\))/](warm\/\1)/'
	echo
	echo "## The wasm action on the wasm host backend (module instances in the standalone's process, no container)"
	echo
	echo "### Cold"
	echo
	sed -n '/^## mobilenet/,$p' "$out/wasmhost-cold/summary.md" | sed 's/^## /#### /; s/](\([a-z_]*\.png\))/](wasmhost-cold\/\1)/'
	echo
	echo "### Warm"
	echo
	sed -n '/^## mobilenet/,$p' "$out/wasmhost-warm/summary.md" | sed 's/^## /#### /; s/](\([a-z_]*\.png\))/](wasmhost-warm\/\1)/'
	echo
	echo "## hello: cold starts where start-up is all the work"
	echo
	echo "hello-native is the native actionloop executable on the $backend backend (native-runtime image under Docker);"
	echo "hello-wasm is the same source as a precompiled wasm reactor, on the $backend backend and then on the wasm host."
	echo
	echo "### $backend backend"
	echo
	sed -n '/^## hello/,$p' "$out/hello-cold/summary.md" | sed 's/^## /#### /; s/](\([a-z_]*\.png\))/](hello-cold\/\1)/'
	echo
	echo "### wasm host backend"
	echo
	sed -n '/^## hello/,$p' "$out/hello-wasmhost-cold/summary.md" | sed 's/^## /#### /; s/](\([a-z_]*\.png\))/](hello-wasmhost-cold\/\1)/'
} >"$out/README.md"
say "report: $out/README.md"

if [ "${DEMO_UPDATE_DOCS:-1}" = 1 ] && grep -q '<!-- results:begin -->' docs/benchmarking.md; then
	tmp=$(mktemp)
	{
		sed '/<!-- results:begin -->/q' docs/benchmarking.md
		echo
		echo "Latest run: \`$out/\` (regenerate with \`make demo\`; numbers below are copied from its README.md)."
		echo
		sed -n '/^Made by/,$p' "$out/README.md" | sed 's/^### /#### /; t; s/^## /### /' | grep -v -e '^!\[' -e '^#### Plots' | cat -s
		echo
		sed -n '/<!-- results:end -->/,$p' docs/benchmarking.md
	} >"$tmp"
	mv "$tmp" docs/benchmarking.md
	say "docs/benchmarking.md results section updated"
fi
say "done in $(($(date +%s) - began)) s"
