#!/bin/sh
# Model load before/after: checks out two commits by turns in a scratch worktree and runs
# BenchmarkModelLoad ROUNDS times on each, with this tree's benchmark and loadbench program (so an
# older commit is measured the same way), then compares the runs with benchstat. Alternating
# keeps a shared machine's changing load from favouring one side.
#
# Usage (from the module root): nn/onnx/internal/loadbench/ab.sh BEFORE AFTER [ROUNDS, default 6]
# The model comes from $WASMWHISK_MODEL_DIR, else ../shared/models.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BEFORE AFTER [ROUNDS]" >&2; exit 2; }
before=$(git rev-parse --short "$1")
after=$(git rev-parse --short "$2")
rounds=${3:-6} # benchstat gives a confidence interval from 6 samples
root=$(pwd)
scratch=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$scratch/wt" 2>/dev/null || true; rm -rf "$scratch"' EXIT
git worktree add -q --detach "$scratch/wt" "$after"
WASMWHISK_MODEL_DIR=${WASMWHISK_MODEL_DIR:-$(realpath ../shared/models)}
export WASMWHISK_MODEL_DIR
for i in $(seq "$rounds"); do
	for c in "$before" "$after"; do
		git -C "$scratch/wt" checkout -q -f --detach "$c"
		git -C "$scratch/wt" clean -fdq
		mkdir -p "$scratch/wt/nn/onnx/internal/loadbench"
		cp nn/onnx/load_bench_test.go "$scratch/wt/nn/onnx/"
		cp nn/onnx/internal/loadbench/main.go "$scratch/wt/nn/onnx/internal/loadbench/"
		echo "# $c, round $i of $rounds:$(uptime)" >&2
		(cd "$scratch/wt" && go test -run '^$' -bench ModelLoad -benchtime 10x ./nn/onnx) >>"$scratch/$c"
	done
done
cd "$scratch" && go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$before" "$after"
