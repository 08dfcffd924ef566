package loadgen

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestParseDeploy(t *testing.T) {
	tests := []struct {
		in      string
		want    DeploySpec
		wantErr string
	}{
		{in: "hw=wasm:0.1@build/hello.wasm", want: DeploySpec{Name: "hw", Kind: "wasm:0.1", Source: "build/hello.wasm"}},
		{in: "mn=blackbox@wasmwhisk/mobilenet:latest", want: DeploySpec{Name: "mn", Kind: "blackbox", Source: "wasmwhisk/mobilenet:latest"}},
		{in: "mn=blackbox@img@sha256:ab,memory=512", want: DeploySpec{Name: "mn", Kind: "blackbox", Source: "img@sha256:ab", MemoryMB: 512}},
		{in: "hw=wasm:0.1", wantErr: "want name=kind@source"},
		{in: "=wasm:0.1@x", wantErr: "want name=kind@source"},
		{in: "hw=@x", wantErr: "want name=kind@source"},
		{in: "hw=wasm:0.1@", wantErr: "want name=kind@source"},
		{in: "hw=wasm:0.1@x,memory=lots", wantErr: "only memory=MB"},
		{in: "hw=wasm:0.1@x,memory=-5", wantErr: "only memory=MB"},
		{in: "hw=wasm:0.1@x,timeout=5", wantErr: "only memory=MB"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDeploy(tt.in)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDeployAllEncodesBinaryAsBase64(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "a.wasm")
	module := []byte("\x00asm\x01\x00\x00\x00")
	if err := os.WriteFile(wasm, module, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "a.js")
	if err := os.WriteFile(script, []byte("function main(){return {}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newWhiskPeer(t)
	err := DeployAll(context.Background(), p.target(), []DeploySpec{
		{Name: "w", Kind: "wasm:0.1", Source: wasm, MemoryMB: 128},
		{Name: "j", Kind: "nodejs:20", Source: script},
		{Name: "b", Kind: "blackbox", Source: "wasmwhisk/mobilenet:latest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	code := func(name string) any { return p.actions[name]["exec"].(map[string]any)["code"] }
	if code("w") != base64.StdEncoding.EncodeToString(module) {
		t.Errorf("wasm code %v", code("w"))
	}
	if code("j") != "function main(){return {}}" {
		t.Errorf("text code %v", code("j"))
	}
	if err := DeployAll(context.Background(), p.target(), []DeploySpec{{Name: "x", Kind: "wasm:0.1", Source: filepath.Join(dir, "missing")}}); err == nil {
		t.Fatal("missing file deployed")
	}
}
