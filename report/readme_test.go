package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeResultsFigures: every figure of README.md's results section is in the summary.json
// the section names, and the section is what `make results` generates from it (so no figure
// was edited by hand and none is stale).
func TestReadmeResultsFigures(t *testing.T) {
	root := ".."
	missing, path, err := CheckReadme(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("README.md's results section has figures that are not in %s: %s", path, strings.Join(missing, ", "))
	}
	s, err := ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ file, want string }{
		{"README.md", ReadmeSection(s, path)},
		{"docs/benchmarking.md", BenchmarkingSection(s, path)},
	} {
		doc, err := os.ReadFile(filepath.Join(root, f.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Section(doc)
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		if got != strings.TrimSpace(f.want) {
			t.Errorf("%s: the results section is not what `make results` generates from %s; run make results", f.file, path)
		}
	}
}
