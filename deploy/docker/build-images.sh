#!/usr/bin/env bash
# build-images.sh — build wasmwhisk's Docker images with the local engine, without any registry:
# every image is FROM scratch over a rootfs this script assembles.
#
#   wasmwhisk/wasm-runtime    kind wasm:0.1: actionproxy -executor wasm (cgo + wasmtime, static)
#   wasmwhisk/native-runtime  native actionloop executables: actionproxy -executor native
#   wasmwhisk/mobilenet       blackbox image: the native MobileNet action baked in as code stub,
#                             with the model files it needs
#
# Usage: deploy/docker/build-images.sh [IMAGE...]   (default: all three; names as above without
#        the prefix). Prints each image's size; the table also goes to $IMAGE_SIZES_FILE if set.
#
# Environment:
#   IMAGE_PREFIX        image name prefix            (default wasmwhisk)
#   IMAGE_TAG           tag                          (default 0.1; not "latest", which OpenWhisk
#                                                      always tries to pull for blackbox actions)
#   WASMWHISK_MODEL_DIR model directory for mobilenet (default: ./models/, then ../shared/models/)
#   MOBILENET_FILES     model files to bake in       (default: model.json and the files it names,
#                                                      else the first known model + imagenet_labels.txt,
#                                                      as nn/model.ReadSidecar finds them)
#   GO                  go command                   (default go)
#   IMAGE_SIZES_FILE    write "image<TAB>bytes" lines here
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/deploy/docker"
prefix=${IMAGE_PREFIX:-wasmwhisk}
tag=${IMAGE_TAG:-0.1}
GO=${GO:-go}
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(wasm-runtime native-runtime mobilenet)

say() { echo "build-images: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers (run deploy/docker/ensure-dockerd.sh)"

work=$(mktemp -d "${TMPDIR:-/tmp}/wasmwhisk-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- actionproxy -------------------------------------------------------------------------------
# cgo (wasmtime-go links libwasmtime.a). Linked fully static so that the image needs no libc;
# netgo/osusergo keep Go's resolver and user lookups pure Go. If static linking is impossible on
# this machine, fall back to a dynamic binary plus exactly the shared libraries ldd lists.
proxy="$work/actionproxy"
static=1
say "building actionproxy (static, cgo)"
if ! (cd "$root" && CGO_ENABLED=1 "$GO" build -trimpath -tags netgo,osusergo \
	-ldflags "-s -w -linkmode external -extldflags -static" -o "$proxy" ./cmd/actionproxy) 2>"$work/static.log"; then
	say "static link failed (see below); falling back to a dynamic binary + its libraries"
	grep -v 'requires at runtime the shared libraries' "$work/static.log" >&2 || true
	static=0
	(cd "$root" && CGO_ENABLED=1 "$GO" build -trimpath -tags netgo,osusergo -ldflags "-s -w" -o "$proxy" ./cmd/actionproxy)
fi

# rootfs shared by every image: the proxy, users, a sticky world-writable /tmp.
base="$work/base"
mkdir -p "$base/rootfs/bin" "$base/rootfs/etc" "$base/rootfs/tmp" "$base/home/whisk" "$base/modcache"
chmod 1777 "$base/rootfs/tmp"
chmod 0700 "$base/modcache"
chmod 0755 "$base/rootfs" "$base/rootfs/bin" "$base/rootfs/etc" "$base/home" "$base/home/whisk"
install -m 0755 "$proxy" "$base/rootfs/bin/actionproxy"
cat >"$base/rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
whisk:x:1001:1001:OpenWhisk action:/home/whisk:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
PASSWD
cat >"$base/rootfs/etc/group" <<'GROUP'
root:x:0:
whisk:x:1001:
nogroup:x:65534:
GROUP
chmod 0644 "$base/rootfs/etc/passwd" "$base/rootfs/etc/group"
if [ "$static" = 0 ]; then
	# Copy the dynamic loader and every library ldd resolves, at the same paths.
	ldd "$proxy" | awk '/=>/ {print $3} !/=>/ && $1 ~ /^\// {print $1}' | while read -r lib; do
		[ -n "$lib" ] || continue
		mkdir -p "$base/rootfs$(dirname "$lib")"
		cp -L "$lib" "$base/rootfs$lib"
	done
fi

# --- per image ---------------------------------------------------------------------------------
resolve_model_dir() {
	local d
	for d in "${WASMWHISK_MODEL_DIR:-}" "$root/models" "$root/../shared/models"; do
		if [ -n "$d" ] && [ -d "$d" ]; then (cd "$d" && pwd); return 0; fi
	done
	return 1
}

# model_files DIR prints the files the mobilenet action needs from a model directory: model.json
# and the model and label files it names, else the first known model file and the labels. A
# small Go helper reads the directory with nn/model's own rule, so the image holds what the
# action will open.
model_files() {
	(cd "$root" && CGO_ENABLED=0 "$GO" run ./deploy/docker/internal/modelfiles "$1")
}

build_one() { # name dockerfile context
	local name=$1 dockerfile=$2 ctx=$3 ref="$prefix/$1:$tag"
	say "building $ref"
	cp "$dockerfile" "$ctx/Dockerfile"
	local old
	old=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
	DOCKER_BUILDKIT=0 docker build -q -t "$ref" "$ctx" >/dev/null 2>"$work/$name.build.log" || {
		cat "$work/$name.build.log" >&2; die "docker build $ref failed"; }
	# Drop the image this tag replaced (unless a container still uses it), so rebuilds do not
	# pile up untagged images.
	if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$ref")" ]; then
		docker image rm "$old" >/dev/null 2>&1 || true
	fi
	built+=("$ref")
}

built=()
for img in "${images[@]}"; do
	ctx="$work/ctx-$img"
	mkdir -p "$ctx"
	cp -a "$base/rootfs" "$base/home" "$base/modcache" "$ctx/"
	case "$img" in
	wasm-runtime) build_one "$img" "$here/wasm-runtime.Dockerfile" "$ctx" ;;
	native-runtime) build_one "$img" "$here/native-runtime.Dockerfile" "$ctx" ;;
	mobilenet)
		models=$(resolve_model_dir) || die "no model directory: set WASMWHISK_MODEL_DIR, or provide ./models/ or ../shared/models/ (make model)"
		mkdir -p "$ctx/action/models"
		say "building the native mobilenet action (static)"
		(cd "$root" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$ctx/action/exec" ./actions/mobilenet)
		files=${MOBILENET_FILES:-$(model_files "$models")} || die "no usable model in $models (want model.json or a known model file)"
		for f in $files; do
			[ -f "$models/$f" ] || die "model file $models/$f missing"
			install -m 0644 "$models/$f" "$ctx/action/models/$(basename "$f")"
		done
		say "mobilenet model files from $models: $files"
		chmod 0755 "$ctx/action" "$ctx/action/models" "$ctx/action/exec"
		build_one "$img" "$here/mobilenet.Dockerfile" "$ctx"
		;;
	*) die "unknown image $img (want wasm-runtime, native-runtime or mobilenet)" ;;
	esac
done

# --- sizes -------------------------------------------------------------------------------------
[ -z "${IMAGE_SIZES_FILE:-}" ] || : >"$IMAGE_SIZES_FILE"
printf '%-36s %12s %10s\n' IMAGE BYTES MiB
for ref in "${built[@]}"; do
	size=$(docker image inspect -f '{{.Size}}' "$ref")
	printf '%-36s %12d %10.1f\n' "$ref" "$size" "$(awk -v s="$size" 'BEGIN{print s/1048576}')"
	[ -z "${IMAGE_SIZES_FILE:-}" ] || printf '%s\t%d\n' "$ref" "$size" >>"$IMAGE_SIZES_FILE"
done
if [ "$static" = 1 ]; then say "actionproxy is statically linked"; else say "actionproxy is dynamic; libraries copied from ldd"; fi
