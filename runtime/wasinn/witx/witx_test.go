package witx

import "testing"

func TestNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Success.String(), "success"},
		{NotFound.String(), "not_found"},
		{Errno(9).String(), "nn_errno(9)"},
		{TooLarge.Error(), "wasi-nn error too_large"},
		{Errno(99).Error(), "wasi-nn error 99"},
		{F32.String(), "f32"},
		{I64.String(), "i64"},
		{TensorType(6).String(), "tensor_type(6)"},
		{ONNX.String(), "onnx"},
		{Autodetect.String(), "autodetect"},
		{Encoding(6).String(), "graph_encoding(6)"},
		{CPU.String(), "cpu"},
		{TPU.String(), "tpu"},
		{Target(3).String(), "execution_target(3)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
