package wasm

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
)

func TestTrimKeepsHeadAndTail(t *testing.T) {
	f, err := newStdioFile(t.TempDir(), "trim")
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	const mib = 1 << 20
	for i := 0; i < 64; i++ {
		if _, err := f.f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	w := &watchedFile{f: f.f, from: 0, head: mib, tail: mib}
	w.trim()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 8*mib {
		t.Errorf("after trimming, the file still uses %d bytes", used)
	}
	size, _ := f.size()
	if size != 64*mib {
		t.Fatalf("size = %d, want it unchanged", size)
	}
	head := make([]byte, mib)
	tail := make([]byte, mib)
	f.f.ReadAt(head, 0)
	f.f.ReadAt(tail, size-mib)
	if !bytes.Equal(head, chunk) || !bytes.Equal(tail, chunk) {
		t.Error("trimming touched the kept head or tail")
	}
}

// TestPrintHundredsOfMiB prints far more than is kept: the result line at the end survives, and
// the log is capped.
func TestPrintHundredsOfMiB(t *testing.T) {
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, abi.reactor))
			r := run(t, x, activation{value: `{"mode":"print","bytes":209715200}`})
			if r.err != nil || r.result != `{"printed":true}` {
				t.Fatalf("run = %v %s", r.err, r.result)
			}
			if !strings.Contains(r.stderr, "Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes.") || len(r.stdout) > DefaultLogLimit+300 {
				t.Errorf("stdout log of %d bytes is not capped", len(r.stdout))
			}
		})
	}
}
