#!/usr/bin/env bash
# prepare-chart.sh CHART_DIR — copy wasmwhisk's runtimes manifest into an openwhisk-deploy-kube
# chart (helm/openwhisk), where whisk.runtimes in values-wasmwhisk.yaml expects it.
# IMAGE_REGISTRY=<host[:port]> adds that registry to wasmwhisk's images, for clusters that pull
# from a registry (push the images there first: docs/deploy.md).
set -euo pipefail
chart=${1:?usage: prepare-chart.sh path/to/openwhisk-deploy-kube/helm/openwhisk}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$chart/Chart.yaml" ] || { echo "prepare-chart: $chart is not a Helm chart (no Chart.yaml)" >&2; exit 1; }
src="$here/../runtimes.json"
dst="$chart/runtimes-wasmwhisk.json"
if [ -n "${IMAGE_REGISTRY:-}" ]; then
	sed "s#\"prefix\": \"wasmwhisk\"#\"registry\": \"${IMAGE_REGISTRY}\", \"prefix\": \"wasmwhisk\"#" "$src" >"$dst"
else
	cp "$src" "$dst"
fi
echo "prepare-chart: wrote $dst"
