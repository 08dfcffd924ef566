#!/bin/sh
# MobileNet single-thread latency, all measured in this run: inference natively (best kernels and
# pure Go) against the onnxruntime anchor; then warm activations of the action's three builds
# (native, wasm with inference by the host through wasi-nn, wasm with inference in the guest),
# interleaved, with the ratios to native (BenchmarkActivation).
# Usage: bench/mobilenet.sh [MODEL_DIR]   (run from the module root)
set -eu
DIR=${1:-../shared/models}
RUNS=${RUNS:-30}
export WASMWHISK_MODEL_DIR=$(realpath "$DIR")
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sed -n 's/.* \([0-9.]*\) median-ms.*/\1/p'; }
native=$(go test -run '^$' -bench Inference -benchtime ${RUNS}x ./nn/model/nnengine | median)
purego=$(go test -tags purego -run '^$' -bench Inference -benchtime ${RUNS}x ./nn/model/nnengine | median)
(cd bench/ort && [ -d node_modules/onnxruntime-node ] || ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund >/dev/null)
ort=$(cd bench/ort && node anchor.js "$WASMWHISK_MODEL_DIR/mobilenetv2-1.0-224.onnx" "$WASMWHISK_MODEL_DIR/parrot.input.f32" "$RUNS" 10 |
	python3 -c 'import sys,json; print(json.load(sys.stdin)["median_ms"])')
python3 - "$native" "$purego" "$ort" "$RUNS" <<'PY'
import sys
n, p, o = map(float, sys.argv[1:4])
print(f"inference, median of {sys.argv[4]}:")
print(f"  native best    {n:8.1f} ms  {n/o:6.2f}x onnxruntime")
print(f"  native purego  {p:8.1f} ms  {p/o:6.2f}x onnxruntime")
print(f"  onnxruntime    {o:8.1f} ms  (1 thread)")
PY
go test -run '^$' -bench Activation -benchtime 1x ./actions/mobilenet | grep -v '^\(goos\|goarch\|pkg\|cpu\|PASS\|ok\|BenchmarkActivation\)'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
