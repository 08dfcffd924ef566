package loadgen

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := NewLineProgress(&b, false)
	p.Begin("hello c=2 r=1", 20)
	for i := 0; i < 20; i++ {
		status := StatusSuccess
		if i == 3 {
			status = StatusThrottled
		}
		p.Step(Row{Action: "hello", Concurrency: 2, ActivationID: "x", Status: status, ClientLatency: 10})
	}
	p.End()
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// Begin, nine tenths, and the closing line.
	if len(lines) != 11 || lines[0] != "hello c=2 r=1: 20 to go" || lines[1] != "hello c=2 r=1: 2/20" {
		t.Fatalf("lines:\n%s", out)
	}
	if want := "hello c=2 r=1: done 20/20, mean client latency 10.0 ms, 1 not successful"; lines[10] != want {
		t.Fatalf("last line %q, want %q", lines[10], want)
	}
	if strings.Contains(out, "\r") {
		t.Fatal("carriage return in plain output")
	}
}

func TestLineProgressTTY(t *testing.T) {
	var b bytes.Buffer
	p := NewLineProgress(&b, true)
	p.Begin("w c=1 r=1", 4)
	for i := 0; i < 4; i++ {
		p.Step(Row{Action: "w", Concurrency: 1, ActivationID: "x", Status: StatusSuccess, ClientLatency: 5})
	}
	p.End()
	out := b.String()
	if !strings.Contains(out, "\r\x1b[Kw c=1 r=1 [##############################] 4/4, mean client latency 5.0 ms") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("tty output %q", out)
	}
}
