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
	const note = "Logs were truncated because the total bytes size exceeds the limit of 10 bytes.\n"
	cases := []struct {
		in        string
		limit     int64
		out, errs string
	}{
		{"", 10, "", ""},
		{"a\n", 10, "a\n", ""},
		{"no newline", 100, "no newline\n", ""},
		{"0123456789", 10, "0123456789\n", ""},
		// Whole lines only, as OpenWhisk keeps them; the note goes to stderr.
		{"0123\n5678\nabcdef\n", 10, "0123\n5678\n", note},
		{"0123\n56789abcdef\n", 10, "0123\n", note},
		// A first line longer than the limit is cut at the limit.
		{"0123456789abcdef\n", 10, "0123456789\n", note},
	}
	for _, c := range cases {
		var out, errs bytes.Buffer
		if err := copyLog(&out, &errs, strings.NewReader(c.in), 0, int64(len(c.in)), c.limit); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.out || errs.String() != c.errs {
			t.Errorf("copyLog(%q, %d) = %q, %q; want %q, %q", c.in, c.limit, out.String(), errs.String(), c.out, c.errs)
		}
	}
	// From an offset, with the newline search crossing its 64 KiB window.
	in := "skip\n" + strings.Repeat("y", 100<<10) + "\n" + strings.Repeat("z", 100<<10) + "\n"
	var out, errs bytes.Buffer
	if err := copyLog(&out, &errs, strings.NewReader(in), 5, int64(len(in)), 150<<10); err != nil {
		t.Fatal(err)
	}
	if out.String() != strings.Repeat("y", 100<<10)+"\n" || !strings.Contains(errs.String(), "exceeds the limit of 153600 bytes") {
		t.Errorf("offset copy: %d bytes, note %q", out.Len(), errs.String())
	}
}
