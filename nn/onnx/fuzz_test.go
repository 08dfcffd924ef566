package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds mutated model bytes to the loader: it must return errors, never panic, and
// never allocate beyond the pre-scan's limits.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"test_conv_with_strides_padding", "test_gemm_default_vector_bias", "test_reshape_reduced_dims", "test_clip", "test_maxpool_2d_pads"} {
		if b, err := os.ReadFile(filepath.Join("/usr/share/libonnx-testdata/data/node", name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{0x08, 0x08, 0x3a, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x3a, 0x0a, 0x2a, 0x08, 0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x10, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(data)
		if err == nil && g == nil {
			t.Fatal("nil graph without an error")
		}
	})
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string][]byte{
		"empty":            {},
		"truncated varint": {0x08, 0xff},
		"no graph":         {0x08, 0x08},
		"huge length":      {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"tensor too short": {0x3a, 0x0c, 0x2a, 0x0a, 0x08, 0x04, 0x10, 0x01, 0x42, 0x01, 'w', 0x4a, 0x01, 0x00},
		"negative dim":     {0x3a, 0x0f, 0x2a, 0x0d, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x01},
		"bad wire type":    {0x0f},
	}
	for name, b := range cases {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}
