package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

func TestParseStemCells(t *testing.T) {
	if got, err := parseStemCells(formatStemCells(standalone.DefaultStemCells())); err != nil || !reflect.DeepEqual(got, standalone.DefaultStemCells()) {
		t.Fatalf("round trip of the defaults: %v %v", got, err)
	}
	cases := []struct {
		in      string
		want    []standalone.StemCell
		wantErr string
	}{
		{"", nil, ""},
		{"wasm:0.1:256:2, native:0.1:512:1", []standalone.StemCell{{Kind: "wasm:0.1", MemoryMB: 256, Count: 2}, {Kind: "native:0.1", MemoryMB: 512, Count: 1}}, ""},
		{"wasm:0.1:256", nil, `-prewarm "wasm:0.1:256"`},
		{"256:2", nil, "want kind:memoryMB:count"},
		{"wasm:0.1:big:2", nil, "expected integer"},
	}
	for _, c := range cases {
		got, err := parseStemCells(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("parseStemCells(%q) error %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseStemCells(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}
