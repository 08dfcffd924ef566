#!/usr/bin/env bash
# demo.sh — `make demo` (quick) and `make demo-full` (bash scripts/demo.sh -full): builds what the
# demo runs, then hands over to its driver, bin/wasmwhisk-demo (package demo), which starts
# `wasmwhisk standalone` as a process of its own per configuration, measures every variant and
# writes results/<timestamp>/summary.json and README.md (the verdict table first).
#
# It changes no committed file: `make results SUMMARY=results/<timestamp>/summary.json` adopts a
# run and regenerates the results sections of README.md and docs/benchmarking.md.
#
# Arguments are passed to `wasmwhisk-demo run` (-full, -only id,..., -model DIR, -out DIR).
# Environment: GO (default go), WASMWHISK_MODEL_DIR (default ./models, then ../shared/models).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}
out=results/$(date -u +%Y%m%d-%H%M%S)
prev=
for arg in "$@"; do
	if [ "$prev" = -out ]; then out=$arg; fi
	prev=$arg
done
mkdir -p "$out"
began=$(date +%s)
command="make demo"
case " $* " in *" -full "*) command="make demo-full" ;; esac

step="build bin/ and build/actions/ (make build wasm mobilenet)"
load0=$(cut -d' ' -f1 /proc/loadavg)
printf 'demo [%6.1fs]  1   %s ... ' 0 "$step" >&2
if make -s build wasm mobilenet GO="$GO" >"$out/build.log" 2>&1; then
	load1=$(cut -d' ' -f1 /proc/loadavg)
	printf 'ok (%d s, load %s)\n' "$(($(date +%s) - began))" "$load1" >&2
else
	printf 'FAILED (log in %s)\n' "$out/build.log" >&2
	tail -20 "$out/build.log" >&2
	exit 1
fi
# Docker variants need an engine; without one their rows say so and the others still run.
if command -v docker >/dev/null && ! docker info >/dev/null 2>&1; then
	bash deploy/docker/ensure-dockerd.sh >"$out/dockerd.log" 2>&1 || echo "demo: no Docker engine (see $out/dockerd.log); Docker rows will say so" >&2
fi
exec bin/wasmwhisk-demo run -command "$command" -out "$out" -started "$began" \
	-step "$step=$(($(date +%s) - began)),$load0,$load1" "$@"
