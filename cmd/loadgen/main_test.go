package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
)

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-actions", "a", "-apihost", "http://127.0.0.1:1", "-auth", "u:k", "-concurrency", "5..1"}, "goes down"},
		{[]string{"run", "-actions", "a", "-apihost", "http://127.0.0.1:1", "-auth", "u:k", "-concurrency", "0"}, "out of range"},
		{[]string{"-actions", "a", "-apihost", "http://127.0.0.1:1", "-auth", "u:k", "-concurrency", "abc"}, "not a whole number"},
		{[]string{"-actions", "a", "-apihost", "http://127.0.0.1:1", "-auth", "u:k", "-deploy", "nonsense"}, "name=kind@source"},
		{[]string{"report"}, "usage: loadgen report"},
		{[]string{"report", "a.json", "b.json"}, "usage: loadgen report"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		t.Setenv("WSK_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
		if code := run(context.Background(), tt.args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", tt.args, code)
		}
		if !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%v: stderr %q lacks %q", tt.args, errOut.String(), tt.want)
		}
	}
}

func TestReportRerenders(t *testing.T) {
	dir := t.TempDir()
	res := &loadgen.Result{
		Meta: loadgen.Meta{Plan: loadgen.Plan{Actions: []string{"a"}, Concurrency: []int{1}}},
		Rows: []loadgen.Row{
			{Action: "a", Kind: "wasm:0.1", Concurrency: 1, Repeat: 1, ActivationID: strings.Repeat("1", 32), Cold: true,
				WaitTime: 3, InitTime: 4, Duration: 10, Run: 6, ClientLatency: 14, Status: "success", HTTPStatus: 200},
			{Action: "a", Kind: "wasm:0.1", Concurrency: 1, Repeat: 1, ActivationID: strings.Repeat("2", 32), Cold: true,
				WaitTime: 5, InitTime: 4, Duration: 12, Run: 8, ClientLatency: 18, Status: "success", HTTPStatus: 200},
		},
	}
	raw := filepath.Join(dir, "raw.json")
	f, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadgen.WriteRawJSON(f, res); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "again")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"report", raw, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// avg_total = mean(13, 17) = 15.
	if !strings.Contains(stdout.String(), "15.0") || !strings.Contains(stdout.String(), "a (wasm:0.1)") {
		t.Fatalf("table:\n%s", stdout.String())
	}
	for _, name := range []string{"summary.md", "raw.csv", "total_vs_concurrency.png", "breakdown.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	if code := run(context.Background(), []string{"report", filepath.Join(dir, "missing.json")}, &stdout, &stderr); code != 1 {
		t.Fatalf("missing file: exit %d", code)
	}
}
