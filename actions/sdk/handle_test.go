//go:build !wasip1

package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestServeLoopHandler runs a Handler (whose lines take decodeJSON's path) through the actionloop:
// parameters with a long string, the context exported, numbers as json.Number, sad paths.
func TestServeLoopHandler(t *testing.T) {
	Handle(func(ctx context.Context, p map[string]any) (any, error) {
		img, _ := p["image"].(string)
		n, _ := p["n"].(json.Number)
		_, hasDeadline := ctx.Deadline()
		return map[string]any{"len": len(img), "prefix": img[:min(4, len(img))], "n": n.String(),
			"id": os.Getenv("__OW_ACTIVATION_ID"), "deadline": hasDeadline}, nil
	})
	img := strings.Repeat("iVBORw0KGgo+/=", 10000)
	in := strings.Join([]string{
		fmt.Sprintf(`{"value":{"image":%q,"n":12345678901234567890},"activation_id":"a1","deadline":4102444800000}`, img),
		`{"value":{"image":"x","n":1},"activation_id":"a2","deadline":"4102444800000"}`,
		`{"value":null,"activation_id":"a3","deadline":"1"}`,
		`{"value":[1,2]}`,
		`{"value":"text"}`,
		`[1]`,
		fmt.Sprintf(`{"value":{"image":%q}`, img), // truncated
	}, "\n") + "\n"
	var out bytes.Buffer
	if err := serveLoop(strings.NewReader(in), &out, false); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf(`{"deadline":true,"id":"a1","len":%d,"n":"12345678901234567890","prefix":"iVBO"}`, len(img)),
		`{"deadline":true,"id":"a2","len":1,"n":"1","prefix":"x"}`,
		`{"deadline":true,"id":"a3","len":0,"n":"","prefix":""}`,
		`{"error":"parameters must be a JSON object, not an array"}`,
		`{"error":"parameters must be a JSON object, not a string"}`,
		`{"error":"bad activation line: not a JSON object"}`,
		`{"error":"bad activation line: unexpected EOF"}`,
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%.2000s", len(got), len(want), out.String())
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("line %d = %.200s, want %.200s", i, got[i], w)
		}
	}
}
