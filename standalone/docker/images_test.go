package docker

import (
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestDefaultRuntimeImages keeps the standalone's default images and the images that
// deploy/docker/build-images.sh produces in agreement.
func TestDefaultRuntimeImages(t *testing.T) {
	want := map[string]string{standalone.KindWasm: WasmRuntimeImage, standalone.KindNative: NativeRuntimeImage}
	for _, rt := range standalone.DefaultRuntimes() {
		if rt.Image != want[rt.Kind] {
			t.Errorf("kind %s: default image %q, make images builds %q", rt.Kind, rt.Image, want[rt.Kind])
		}
	}
}
