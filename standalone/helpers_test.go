package standalone_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/wasmhost"
)

// startServer starts a server on 127.0.0.1:0 with backend b and returns it; it is closed when the
// test ends.
func startServer(t testing.TB, b standalone.Backend, mutate func(*standalone.Config)) *standalone.Server {
	t.Helper()
	cfg := standalone.Config{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Backend: b,
		NoSync:  true,
		Pool:    standalone.PoolConfig{PauseGrace: time.Minute, IdleTimeout: time.Minute},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := standalone.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return srv
}

func newWasmHost(t testing.TB) standalone.Backend {
	t.Helper()
	b, err := wasmhost.New(wasmhost.Config{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wasmCode returns the base64 of the wasm build of an action package such as "./actions/hello".
func wasmCode(t testing.TB, pkg string) string {
	t.Helper()
	path := testbuild.MustBuild(t, testbuild.Target{Pkg: pkg, WASM: true})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(data)
}

// wasmReactorCode returns the base64 of the wasm reactor build (-buildmode=c-shared) of an action.
func wasmReactorCode(t testing.TB, pkg string) string {
	t.Helper()
	path := testbuild.MustBuild(t, testbuild.Target{Pkg: pkg, WASM: true, Reactor: true})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(data)
}

// nativeCode returns the base64 of the native build of an action package.
func nativeCode(t testing.TB, pkg string) string {
	t.Helper()
	path := testbuild.MustBuild(t, testbuild.Target{Pkg: pkg})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(data)
}

// call does one authenticated request and returns status, headers and body.
func call(t testing.TB, method, url string, body any, key string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		user, pass, _ := cut(key)
		req.SetBasicAuth(user, pass)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

func cut(key string) (string, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// record is the API form of an activation as tests read it.
type record struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	ActivationID string `json:"activationId"`
	Start        int64  `json:"start"`
	End          int64  `json:"end"`
	Duration     int64  `json:"duration"`
	Response     struct {
		Status  string          `json:"status"`
		Success bool            `json:"success"`
		Result  json.RawMessage `json:"result"`
	} `json:"response"`
	Logs        []string `json:"logs"`
	Annotations []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"annotations"`
}

func (r *record) annotation(key string) (json.RawMessage, bool) {
	for _, a := range r.Annotations {
		if a.Key == key {
			return a.Value, true
		}
	}
	return nil, false
}

func decodeRecord(t testing.TB, data []byte) record {
	t.Helper()
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("decode record %s: %v", data, err)
	}
	return r
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func decodeList(t testing.TB, data []byte) []record {
	t.Helper()
	var out []record
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("decode list: %v", err)
	}
	return out
}
