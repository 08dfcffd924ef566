package memstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCgroupRead(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		files     map[string]string
		wantErr   bool
		bytes     int64
		peakBytes int64
	}{
		{name: "v1", files: map[string]string{
			"memory.usage_in_bytes":     strconv.Itoa(100 * mib),
			"memory.max_usage_in_bytes": strconv.Itoa(150 * mib),
			"memory.stat":               "cache 999\ntotal_cache " + strconv.Itoa(30*mib) + "\ntotal_shmem " + strconv.Itoa(10*mib) + "\ntotal_rss 5\n",
		}, bytes: 80 * mib, peakBytes: 130 * mib},
		{name: "v1 without hierarchy", files: map[string]string{
			"memory.usage_in_bytes": strconv.Itoa(10 * mib),
			"memory.stat":           "cache " + strconv.Itoa(4*mib) + "\nshmem 0\n",
		}, bytes: 6 * mib, peakBytes: 0},
		{name: "v2", files: map[string]string{
			"memory.current": strconv.Itoa(64 * mib),
			"memory.peak":    strconv.Itoa(70 * mib),
			"memory.stat":    "anon 1\nfile " + strconv.Itoa(16*mib) + "\nshmem " + strconv.Itoa(8*mib) + "\n",
		}, bytes: 56 * mib, peakBytes: 62 * mib},
		{name: "peak below usage after a reset race", files: map[string]string{
			"memory.current": strconv.Itoa(64 * mib),
			"memory.peak":    strconv.Itoa(10 * mib),
			"memory.stat":    "file 0\n",
		}, bytes: 64 * mib, peakBytes: 64 * mib},
		{name: "garbage usage", files: map[string]string{"memory.current": "lots", "memory.stat": ""}, wantErr: true},
		{name: "no stat", files: map[string]string{"memory.usage_in_bytes": "12"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			cg, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := cg.Read()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Read = %+v, want an error", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Bytes() != tt.bytes || m.PeakBytes() != tt.peakBytes {
				t.Fatalf("Bytes %d PeakBytes %d, want %d %d (%+v)", m.Bytes(), m.PeakBytes(), tt.bytes, tt.peakBytes, m)
			}
		})
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Fatal("Open of an empty directory succeeded")
	}
}

func TestResetPeakV1(t *testing.T) {
	dir := writeFiles(t, map[string]string{"memory.usage_in_bytes": "5", "memory.max_usage_in_bytes": "9", "memory.stat": ""})
	cg, _ := Open(dir)
	if err := cg.ResetPeak(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "memory.max_usage_in_bytes")); string(b) != "0" {
		t.Fatalf("max_usage_in_bytes = %q, want the reset write 0", b)
	}
	v2 := Cgroup{Dir: dir, V2: true}
	if err := v2.ResetPeak(); err != ErrPeakNotResettable {
		t.Fatalf("v2 ResetPeak = %v", err)
	}
}

func TestReadProcessSeesAllocation(t *testing.T) {
	if !Available() {
		t.Skip("no /proc/self/smaps_rollup")
	}
	before, err := ReadProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		if i%4096 == 0 {
			buf[i] = 1
		}
	}
	after, err := ReadProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.PSS - before.PSS; grew < 48<<20 {
		t.Fatalf("PSS grew by %d bytes after touching 64 MiB", grew)
	}
	if after.PeakRSS < after.RSS || after.Processes != 1 {
		t.Fatalf("reading %+v", after)
	}
	buf[0] = buf[len(buf)-4096] // keep buf alive until here
	if _, err := ReadProcess(1 << 30); err == nil {
		t.Fatal("ReadProcess of a pid that does not exist succeeded")
	}
}

func TestReadTreeCountsChildren(t *testing.T) {
	if !Available() {
		t.Skip("no /proc/self/smaps_rollup")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(Descendants(os.Getpid()), cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d not among the descendants %v", cmd.Process.Pid, Descendants(os.Getpid()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	self, _ := ReadProcess(os.Getpid())
	tree, err := ReadTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree.Processes < 2 || tree.PSS <= self.PSS-(1<<20) {
		t.Fatalf("tree %+v, self %+v", tree, self)
	}
	if err := ResetPeakRSS(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestCgroupOfSelf(t *testing.T) {
	cg, err := CgroupOf(os.Getpid())
	if err != nil {
		t.Skip("no readable memory cgroup here:", err)
	}
	m, err := cg.Read()
	if err != nil {
		t.Fatal(err)
	}
	if m.Usage <= 0 || m.Bytes() <= 0 {
		t.Fatalf("own cgroup %s reads %+v", cg.Dir, m)
	}
	if _, err := CgroupOf(1 << 30); err == nil {
		t.Fatal("CgroupOf a pid that does not exist succeeded")
	}
}
