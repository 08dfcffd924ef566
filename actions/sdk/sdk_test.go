//go:build !wasip1

package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestServeLoop(t *testing.T) {
	HandleRaw(func(ctx context.Context, value json.RawMessage) (any, error) {
		var p map[string]any
		if err := json.Unmarshal(value, &p); err != nil {
			return value, nil // arrays come back as they are
		}
		switch p["do"] {
		case "fail":
			return nil, errors.New("sorry")
		case "panic":
			panic("boom")
		case "context":
			a, _ := FromContext(ctx)
			_, hasDeadline := ctx.Deadline()
			return map[string]any{"id": a.ID, "ns": os.Getenv("__OW_NAMESPACE"), "deadline": hasDeadline}, nil
		}
		return p, nil
	})
	in := strings.Join([]string{
		`{"value":{"a":1}}`,
		`{"value":null}`,
		`{"value":["x",2]}`,
		`{"value":{"do":"fail"}}`,
		`{"value":{"do":"panic"}}`,
		`{"value":{"do":"context"},"activation_id":"abc","namespace":"guest","deadline":"4102444800000"}`,
		`not json`,
	}, "\n") + "\n"
	var out bytes.Buffer
	if err := serveLoop(strings.NewReader(in), &out, true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"ok":true}`,
		`{"a":1}`,
		`{}`,
		`["x",2]`,
		`{"error":"sorry"}`,
		`{"error":"action panicked: boom"}`,
		`{"deadline":true,"id":"abc","ns":"guest"}`,
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(got) != len(want)+1 {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want)+1, out.String())
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d = %s, want %s", i, got[i], w)
		}
	}
	if !strings.HasPrefix(got[len(want)], `{"error":"bad activation line`) {
		t.Errorf("bad line answered %s", got[len(want)])
	}
}

func TestHandleRejectsArrays(t *testing.T) {
	Handle(func(context.Context, map[string]any) (any, error) { return map[string]any{}, nil })
	got := string(invoke(json.RawMessage(`[1,2]`)))
	if !strings.Contains(got, "parameters must be a JSON object") {
		t.Fatalf("got %s", got)
	}
}
