package archive

import (
	"encoding/binary"
	"os"
	"testing"
)

// elfHeader builds a 64-byte ELF header with the given class, byte order, OS ABI, type, entry
// point and flags.
func elfHeader(class, data, osabi byte, typ uint16, entry uint64, flags uint32) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF")
	b[4], b[5], b[6], b[7] = class, data, 1, osabi
	var order binary.ByteOrder = binary.LittleEndian
	if data == elfDataMSB {
		order = binary.BigEndian
	}
	order.PutUint16(b[16:], typ)
	if class == elfClass32 {
		order.PutUint32(b[24:], uint32(entry))
		order.PutUint32(b[36:], flags)
	} else {
		order.PutUint64(b[24:], entry)
		order.PutUint32(b[48:], flags)
	}
	return b
}

func TestClassifyELF(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   []byte
		want ELFKind
	}{
		{"this test binary", exe, Executable},
		{"static executable", elfHeader(elfClass64, elfDataLSB, elfOSABISysV, elfTypeExec, 0x401000, 0), Executable},
		{"GNU/Linux PIE", elfHeader(elfClass64, elfDataLSB, elfOSABIGNU, elfTypeDyn, 0x1040, 0), Executable},
		{"32-bit big-endian executable", elfHeader(elfClass32, elfDataMSB, elfOSABISysV, elfTypeExec, 0x10000, 0), Executable},
		{"wasmtime module", elfHeader(elfClass64, elfDataLSB, elfOSABIWasmtime, elfTypeRel, 0, efWasmtimeModule), Precompiled},
		{"wasmtime component", elfHeader(elfClass64, elfDataLSB, elfOSABIWasmtime, elfTypeRel, 0, 2), OtherELF},
		{"object file", elfHeader(elfClass64, elfDataLSB, elfOSABISysV, elfTypeRel, 0, 0), OtherELF},
		{"shared object without entry", elfHeader(elfClass64, elfDataLSB, elfOSABISysV, elfTypeDyn, 0, 0), OtherELF},
		{"core dump", elfHeader(elfClass64, elfDataLSB, elfOSABISysV, 4, 0, 0), OtherELF},
		{"FreeBSD executable", elfHeader(elfClass64, elfDataLSB, 9, elfTypeExec, 0x401000, 0), OtherELF},
		{"bad class", elfHeader(7, elfDataLSB, elfOSABISysV, elfTypeExec, 1, 0), OtherELF},
		{"bad byte order", elfHeader(elfClass64, 9, elfOSABISysV, elfTypeExec, 1, 0), OtherELF},
		{"64-bit header cut short", elfHeader(elfClass64, elfDataLSB, elfOSABISysV, elfTypeExec, 1, 0)[:60], OtherELF},
		{"truncated", []byte("\x7fELF\x02\x01\x01"), NotELF},
		{"wasm", []byte("\x00asm\x01\x00\x00\x00"), NotELF},
		{"empty", nil, NotELF},
	}
	for _, c := range cases {
		if got := ClassifyELF(c.in); got != c.want {
			t.Errorf("%s: ClassifyELF = %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzClassifyELF(f *testing.F) {
	f.Add(elfHeader(elfClass64, elfDataLSB, elfOSABIWasmtime, elfTypeRel, 0, efWasmtimeModule))
	f.Add(elfHeader(elfClass32, elfDataMSB, elfOSABISysV, elfTypeExec, 0x10000, 0))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k := ClassifyELF(b)
		if k != NotELF && Detect(b) != ELF {
			t.Fatalf("ClassifyELF = %v for what Detect calls %v", k, Detect(b))
		}
	})
}
