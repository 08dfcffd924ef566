package archive

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		in   []byte
		want Kind
	}{
		{[]byte("\x00asm\x01\x00\x00\x00"), Wasm},
		{ziptest.Build(t, ziptest.File{Name: "a", Body: []byte("b")}), Zip},
		{[]byte("\x7fELF\x02\x01"), ELF},
		{[]byte("#!/bin/sh\necho"), Script},
		{[]byte("(module)"), WasmText},
		{[]byte(" ;; hello\n(; a (; nested ;) block ;)\n\t(module $m (func))"), WasmText},
		{[]byte("(module\n"), WasmText},
		{[]byte("(modules)"), Unknown},
		{[]byte(";; only a comment"), Unknown},
		{[]byte("(; unterminated (module)"), Unknown},
		{[]byte("function main() {}"), Unknown},
		{[]byte("hello"), Unknown},
		{nil, Unknown},
	}
	for _, c := range cases {
		if got := Detect(c.in); got != c.want {
			t.Errorf("Detect(%q) = %v, want %v", c.in[:min(len(c.in), 8)], got, c.want)
		}
	}
}

func TestExtractZip(t *testing.T) {
	dir := t.TempDir()
	data := ziptest.Build(t,
		ziptest.File{Name: "exec", Body: []byte("#!/bin/sh\n"), Mode: 0o755},
		ziptest.File{Name: "data/labels.txt", Body: []byte("a\nb\n")},
		ziptest.File{Name: "dir/", Mode: os.ModeDir | 0o755},
	)
	names, err := ExtractZip(data, dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "exec" || names[1] != "data/labels.txt" {
		t.Fatalf("names = %v", names)
	}
	st, err := os.Stat(filepath.Join(dir, "exec"))
	if err != nil || st.Mode()&0o100 == 0 {
		t.Fatalf("exec not executable: %v %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "data/labels.txt")); string(b) != "a\nb\n" {
		t.Fatalf("labels = %q", b)
	}
}

func TestExtractZipRejects(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		lim  Limits
		is   error
	}{
		{"not a zip", []byte("Ceci n'est pas un zip."), Limits{}, nil},
		{"parent escape", ziptest.Build(t, ziptest.File{Name: "../evil", Body: []byte("x")}), Limits{}, ErrUnsafePath},
		{"nested escape", ziptest.Build(t, ziptest.File{Name: "a/../../evil", Body: []byte("x")}), Limits{}, ErrUnsafePath},
		{"absolute", ziptest.Build(t, ziptest.File{Name: "/etc/evil", Body: []byte("x")}), Limits{}, ErrUnsafePath},
		{"backslash", ziptest.Build(t, ziptest.File{Name: `..\evil`, Body: []byte("x")}), Limits{}, ErrUnsafePath},
		{"symlink", ziptest.Build(t, ziptest.File{Name: "link", Body: []byte("/etc/passwd"), Mode: os.ModeSymlink | 0o777}), Limits{}, ErrUnsafePath},
		{"too many files", ziptest.Build(t, ziptest.File{Name: "a"}, ziptest.File{Name: "b"}, ziptest.File{Name: "c"}), Limits{MaxFiles: 2}, nil},
		{"too large", ziptest.Build(t, ziptest.File{Name: "big", Body: []byte(string(make([]byte, 5000)))}), Limits{MaxBytes: 4096}, nil},
		{"duplicate", ziptest.Build(t, ziptest.File{Name: "a", Body: []byte("1")}, ziptest.File{Name: "a", Body: []byte("2")}), Limits{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "action")
			os.Mkdir(dir, 0o755)
			_, err := ExtractZip(c.data, dir, c.lim)
			if err == nil {
				t.Fatal("no error")
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("error %v is not %v", err, c.is)
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("an entry escaped the directory")
			}
		})
	}
}

func TestIsBase64(t *testing.T) {
	rule := regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)
	cases := []string{"", "abcd", "abc=", "ab==", "a===", "====", "abc", "ab=d", " aGVsbG8=\n", "aGVsbG8=aGVs",
		"Q2VjaSBuJ2VzdCBwYXMgdW4gemlwLgo=", "#!/bin/sh", "abcd\nefgh", "ab-_", "hello world!", "=abc"}
	for _, c := range cases {
		want := false
		if tr := strings.TrimSpace(c); tr != "" && len(tr)%4 == 0 {
			want = rule.MatchString(tr)
		}
		if got := IsBase64(c); got != want {
			t.Errorf("IsBase64(%q) = %v, the controller's rule says %v", c, got, want)
		}
	}
}

func FuzzIsBase64(f *testing.F) {
	rule := regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)
	f.Add("aGVsbG8=")
	f.Add("ab==")
	f.Fuzz(func(t *testing.T, s string) {
		tr := strings.TrimSpace(s)
		want := tr != "" && len(tr)%4 == 0 && rule.MatchString(tr)
		if got := IsBase64(s); got != want {
			t.Fatalf("IsBase64(%q) = %v, rule %v", s, got, want)
		}
	})
}
