package wasm

import (
	"bytes"
	"strings"
	"testing"
)

func TestLastLine(t *testing.T) {
	cases := []struct {
		out, logs, result string
	}{
		{"", "", ""},
		{"\n\n  \n", "", ""},
		{`{"a":1}`, "", `{"a":1}`},
		{"{\"a\":1}\n", "", `{"a":1}`},
		{"log 1\nlog 2\n{\"a\":1}\n", "log 1\nlog 2\n", `{"a":1}`},
		{"log\r\n[1,2]\r\n\n", "log\r\n", `[1,2]`},
		{"log\n" + strings.Repeat("x", 200<<10) + "\n", "log\n", strings.Repeat("x", 200<<10)},
		{strings.Repeat("l\n", 100<<10) + "{}", strings.Repeat("l\n", 100<<10), "{}"},
	}
	for _, c := range cases {
		end, result, err := lastLine(strings.NewReader(c.out), int64(len(c.out)), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if c.out[:end] != c.logs || string(result) != c.result {
			t.Errorf("lastLine(%.20q) = logs %.20q result %.20q, want %.20q %.20q", c.out, c.out[:end], result, c.logs, c.result)
		}
	}
	long := "log\n" + strings.Repeat("x", 300<<10)
	if _, _, err := lastLine(strings.NewReader(long), int64(len(long)), 100<<10); err == nil || !strings.Contains(err.Error(), "longer than the limit") {
		t.Errorf("over-long result: err = %v", err)
	}
}

func TestCopyLog(t *testing.T) {
	cases := []struct {
		in    string
		limit int64
		want  string
	}{
		{"", 10, ""},
		{"a\n", 10, "a\n"},
		{"no newline", 100, "no newline\n"},
		{"0123456789abcdef\n", 10, "0123456789\n[wasmwhisk: 7 more bytes of stdout were dropped: the log limit is 10 bytes per stream and activation]\n"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if err := copyLog(&out, strings.NewReader(c.in), 0, int64(len(c.in)), c.limit, "stdout"); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("copyLog(%q, %d) = %q, want %q", c.in, c.limit, out.String(), c.want)
		}
	}
}
