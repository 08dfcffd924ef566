#!/bin/sh
# MobileNet single-thread latency: native (best kernels), native pure Go, wasm reactor (whole
# activation) and the onnxruntime anchor, measured in the same run; prints ratios.
# Usage: bench/mobilenet.sh [MODEL_DIR]   (run from the module root)
set -eu
DIR=${1:-../shared/models}
RUNS=${RUNS:-30}
median() { sed -n 's/.* \([0-9.]*\) median-ms.*/\1/p'; }
native=$(go test -run '^$' -bench Inference -benchtime ${RUNS}x ./nn/model/ | median)
purego=$(go test -tags purego -run '^$' -bench Inference -benchtime ${RUNS}x ./nn/model/ | median)
mkdir -p build/actions /tmp/wasmwhisk-bench
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/actions/mobilenet.reactor.wasm ./actions/mobilenet
go build -o /tmp/wasmwhisk-bench/wasmwhisk ./cmd/wasmwhisk
files=$(for i in $(seq $((RUNS + 5))); do echo "$DIR/grace_hopper.bmp"; done)
wasmms=$(/tmp/wasmwhisk-bench/wasmwhisk classify -wasm -model "$DIR" -action build/actions/mobilenet.reactor.wasm -top 1 $files |
	python3 -c 'import sys,json,statistics; ms=[json.loads(l)["ms"] for l in sys.stdin][5:]; print(statistics.median(ms))')
(cd bench/ort && [ -d node_modules/onnxruntime-node ] || ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund >/dev/null)
ort=$(cd bench/ort && node anchor.js "$(cd - >/dev/null; realpath "$DIR")/mobilenetv2-1.0-224.onnx" "$(cd - >/dev/null; realpath "$DIR")/parrot.input.f32" "$RUNS" 10 |
	python3 -c 'import sys,json; print(json.load(sys.stdin)["median_ms"])')
python3 - "$native" "$purego" "$wasmms" "$ort" <<'PY'
import sys
n, p, w, o = map(float, sys.argv[1:])
print(f"native best    {n:8.1f} ms  {n/o:6.1f}x onnxruntime")
print(f"native purego  {p:8.1f} ms  {p/o:6.1f}x onnxruntime")
print(f"wasm reactor   {w:8.1f} ms  {w/p:6.1f}x native purego (whole activation: base64, decode, resize, inference)")
print(f"onnxruntime    {o:8.1f} ms  (1 thread)")
PY
