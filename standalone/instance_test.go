package standalone_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestOpenInstance: data directories with the same base name are different instances (issue:
// a second server with a same-named -data removed the first one's containers); one directory
// reached two ways is one instance, and a second server on it is refused while the first runs.
func TestOpenInstance(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "x", "standalone"), filepath.Join(tmp, "y", "standalone")
	ia, err := standalone.OpenInstance(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ia.Close()
	ib, err := standalone.OpenInstance(b)
	if err != nil {
		t.Fatal(err)
	}
	defer ib.Close()
	if ia.ID == ib.ID || len(ia.ID) != 12 {
		t.Fatalf("ids %q and %q", ia.ID, ib.ID)
	}
	if st, _ := os.Stat(a); st.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", st.Mode().Perm())
	}

	link := filepath.Join(tmp, "link")
	if err := os.Symlink(filepath.Join(tmp, "x"), link); err != nil {
		t.Fatal(err)
	}
	_, err = standalone.OpenInstance(filepath.Join(link, "standalone"))
	if err == nil || !strings.Contains(err.Error(), "in use by another server (pid ") {
		t.Fatalf("second open through a symlink: %v", err)
	}
	ia.Close()
	again, err := standalone.OpenInstance(filepath.Join(link, "standalone"))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.ID != ia.ID || again.DataDir != ia.DataDir {
		t.Fatalf("reopened as %q %q, was %q %q", again.ID, again.DataDir, ia.ID, ia.DataDir)
	}

	dir, err := again.StateDir("process")
	if err != nil || !strings.HasPrefix(dir, again.DataDir) {
		t.Fatalf("state dir %q %v", dir, err)
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if _, err := again.StateDir(bad); err == nil {
			t.Errorf("StateDir(%q) accepted", bad)
		}
	}
	// A file where the directory should be is an error, not a panic.
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := standalone.OpenInstance(file); err == nil {
		t.Error("a file opened as a data directory")
	}
}

func TestLedger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ledger")
	l, err := standalone.OpenLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ Dir string }
	if err := l.Put("c1", entry{"/a"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Put("c2", entry{"/b"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Put("c1", entry{"/c"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".c3.json.tmp"), []byte("{"), 0o600) // a crash mid-write
	got, err := l.Entries()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"c1": []byte(`{"Dir":"/c"}`), "c2": []byte(`{"Dir":"/b"}`)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %q", got)
	}
	if err := l.Delete("c1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete("c1"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if got, _ := l.Entries(); len(got) != 1 {
		t.Fatalf("after delete: %q", got)
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Fatalf("files left: %v", names)
	}
	for _, bad := range []string{"", ".", "..", "a/b", ".hidden", "a\x00"} {
		if err := l.Put(bad, entry{}); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
	}
	var none *standalone.Ledger
	if err := none.Put("x", entry{}); err != nil {
		t.Error(err)
	}
	if got, err := none.Entries(); got != nil || err != nil {
		t.Error(got, err)
	}
}
