package wasinn

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// Fixed layout of the fuzz guest's memory, so that mutations of a valid script reach deep paths.
const (
	fuzzMemSize  = 8 << 10
	fuzzBuilders = 0x100 // {0x400, len(model)}
	fuzzTensor   = 0x200 // dims 0x300 (2), f32, data 0x340 (16 bytes)
	fuzzDims     = 0x300
	fuzzData     = 0x340
	fuzzName     = 0x380 // "add"
	fuzzModel    = 0x400
	fuzzOut      = 0x1800
	fuzzCallSize = 1 + 6*4
)

func fuzzMemory(model []byte) []byte {
	mem := make([]byte, fuzzMemSize)
	copy(mem[fuzzModel:], model)
	binary.LittleEndian.PutUint32(mem[fuzzBuilders:], fuzzModel)
	binary.LittleEndian.PutUint32(mem[fuzzBuilders+4:], uint32(len(model)))
	copy(mem[fuzzTensor:], le32(fuzzDims, 2, 1, fuzzData, 16))
	copy(mem[fuzzDims:], le32(1, 4))
	copy(mem[fuzzData:], floatBytes([]float32{1, 2, 3, 4}))
	copy(mem[fuzzName:], "add")
	return mem
}

// fuzzScript encodes calls: a function number and six u32 arguments each.
func fuzzScript(calls ...[7]uint32) []byte {
	var b []byte
	for _, c := range calls {
		b = append(b, byte(c[0]))
		b = append(b, le32(c[1:]...)...)
	}
	return b
}

// FuzzABI drives an Instance with arbitrary guest memory and calls: every pointer and length is
// the fuzzer's. No call may panic, return an unknown code, grow or shrink the memory, change it
// when it fails, or let the instance hold more than the memory limit.
func FuzzABI(f *testing.F) {
	model := addModel.Bytes()
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "add.onnx"), model, 0o644); err != nil {
		f.Fatal(err)
	}
	reg := NewRegistry(RegistryConfig{MaxModelBytes: 4 << 10})
	cat, err := reg.OpenCatalog(dir, []string{"add.onnx"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(cat.Close)
	byName := fuzzScript(
		[7]uint32{1, fuzzName, 3, fuzzOut},
		[7]uint32{2, 0, fuzzOut + 4},
		[7]uint32{3, 0, 0, fuzzTensor},
		[7]uint32{5, 0},
		[7]uint32{4, 0, 0, fuzzOut + 16, 16, fuzzOut + 8},
	)
	f.Add([]byte(nil), uint16(0), byName)
	f.Add([]byte(nil), uint16(0), append(fuzzScript([7]uint32{0, fuzzBuilders, 1, 1, 0, fuzzOut}), byName[fuzzCallSize:]...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint16(fuzzTensor), byName)
	f.Add([]byte{9, 0, 0, 0}, uint16(fuzzDims), byName)
	f.Add([]byte("garbage model bytes"), uint16(fuzzModel), append(fuzzScript([7]uint32{0, fuzzBuilders, 1, 1, 0, fuzzOut}), byName[fuzzCallSize:]...))
	f.Fuzz(func(t *testing.T, patch []byte, at uint16, script []byte) {
		mem := fuzzMemory(model)
		if int(at) < len(mem) {
			copy(mem[at:], patch)
		}
		const limit = fuzzMemSize + 64<<10
		in := NewInstance(InstanceConfig{Registry: reg, Catalog: cat, MemoryLimit: limit, Limits: Limits{MaxGraphs: 4, MaxContexts: 4}})
		defer in.Close()
		for len(script) >= fuzzCallSize {
			fn := script[0] % 6
			var a [6]uint32
			for i := range a {
				a[i] = binary.LittleEndian.Uint32(script[1+4*i:])
			}
			script = script[fuzzCallSize:]
			before := bytes.Clone(mem)
			m := SliceMemory(mem)
			var code Errno
			switch fn {
			case 0:
				code = in.Load(m, a[0], a[1], a[2], a[3], a[4])
			case 1:
				code = in.LoadByName(m, a[0], a[1], a[2])
			case 2:
				code = in.InitExecutionContext(m, a[0], a[1])
			case 3:
				code = in.SetInput(m, a[0], a[1], a[2])
			case 4:
				code = in.GetOutput(m, a[0], a[1], a[2], a[3], a[4])
			case 5:
				code = in.Compute(a[0])
			}
			if code > NotFound {
				t.Fatalf("call %d returned %d", fn, code)
			}
			if len(mem) != fuzzMemSize {
				t.Fatal("the memory changed size")
			}
			if code != Success && !bytes.Equal(before, mem) {
				t.Fatalf("call %d failed with %s and changed guest memory", fn, code)
			}
			if int64(len(mem))+in.Held() > limit {
				t.Fatalf("the instance holds %d bytes, over the limit", in.Held())
			}
		}
		in.WriteLog(discard{})
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
