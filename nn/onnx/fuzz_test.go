package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds mutated model bytes to the loader: it must return errors, never panic, and
// never allocate beyond the reader's limits.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"test_conv_with_strides_padding", "test_gemm_default_vector_bias", "test_reshape_reduced_dims", "test_clip", "test_maxpool_2d_pads"} {
		if b, err := os.ReadFile(filepath.Join("/usr/share/libonnx-testdata/data/node", name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	f.Add(model(lenField(1, node("", "Add", []string{"x", "x"}, []string{"y"})),
		lenField(5, vint(1, 2), vint(2, 1), str(8, "w"), lenField(9, rawFloats(1, 2))),
		lenField(11, valueInfo("x", -1, 2)), lenField(12, valueInfo("y", 1))))
	f.Add([]byte{0x08, 0x08, 0x3a, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x3a, 0x0a, 0x2a, 0x08, 0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x10, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(data)
		if err == nil && g == nil {
			t.Fatal("nil graph without an error")
		}
	})
}
