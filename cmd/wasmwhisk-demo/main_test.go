package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/report"
)

func TestResultsAndCheck(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	section := "intro\n" + report.BeginMarker + "\n" + report.EndMarker + "\noutro\n"
	for _, f := range []string{"README.md", "docs/benchmarking.md"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte(section), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	median := 312.5
	s := &report.Summary{Schema: report.SchemaVersion, Command: "make demo", Mode: "quick", Method: report.NewMethod(),
		Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 1, 10, 8, 0, 0, time.UTC), Elapsed: 480,
		Machine: report.Machine{Cores: 2, MemoryGiB: 24}, Load: report.Load{Cores: 2},
		Verdict: report.Verdict{Workload: "MobileNet", Baseline: "blackbox", Rows: []report.VerdictRow{{
			Variant: report.Variant{ID: "blackbox", Label: "blackbox image on Docker", MemoryMB: 512},
			Cold:    &report.Cold{N: 6, MedianMS: &median}}}}}
	s.Verdict.Sentences()
	run1 := filepath.Join(t.TempDir(), "summary.json")
	if err := s.WriteFile(run1); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx := context.Background()
	if code := run(ctx, []string{"results", "-root", root, "-from", run1}, &stdout, &stderr); code != 0 {
		t.Fatalf("results: exit %d: %s", code, stderr.String())
	}
	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	if !strings.Contains(string(readme), "312.5") || !strings.HasSuffix(string(readme), "\noutro\n") {
		t.Fatalf("README.md:\n%s", readme)
	}
	if code := run(ctx, []string{"check", "-root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("check of a generated README: exit %d: %s", code, stderr.String())
	}
	tampered := strings.Replace(string(readme), "312.5", "311.5", 1)
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte(tampered), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(ctx, []string{"check", "-root", root}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "311.5") {
		t.Fatalf("check of a hand-edited figure: exit %d: %s", code, stderr.String())
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{nil, 2, "usage"},
		{[]string{"run", "-only", "nonsense"}, 1, "unknown variant"},
		{[]string{"run", "-step", "bad"}, 1, "name=seconds"},
		{[]string{"results", "-root", t.TempDir()}, 1, "summary.json"},
	} {
		stderr.Reset()
		if code := run(ctx, tt.args, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}
