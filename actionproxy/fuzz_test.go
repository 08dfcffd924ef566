package actionproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// recorder is an executor that accepts any code and records what the proxy handed it; the proxy
// is the thing under test here, not an executor.
type recorder struct{ inits []runtime.InitRequest }

func (r *recorder) Init(_ context.Context, req runtime.InitRequest) error {
	if len(req.Code) == 0 {
		return runtime.ErrNoCode
	}
	r.inits = append(r.inits, req)
	return nil
}

func (r *recorder) Run(_ context.Context, req runtime.RunRequest) (json.RawMessage, error) {
	return req.Value, nil
}

func (r *recorder) Close() error { return nil }

func TestDecodeCode(t *testing.T) {
	cases := []struct {
		code   string
		binary bool
		want   string
		err    bool
	}{
		{"aGVsbG8=", true, "hello", false},
		{"aGVsbG8=", false, "hello", false}, // decided by content, not by the flag
		{" aGVsbG8=\n", true, "hello", false},
		{"#!/bin/sh\necho", false, "#!/bin/sh\necho", false},
		{"abc", true, "", true}, // flagged binary, not base64
		{"not base64!", true, "", true},
		{"", false, "", false},
	}
	for _, c := range cases {
		got, err := decodeCode(c.code, c.binary)
		if (err != nil) != c.err || (err == nil && string(got) != c.want) {
			t.Errorf("decodeCode(%q, %v) = %q, %v", c.code, c.binary, got, err)
		}
	}
}

func TestEnvString(t *testing.T) {
	for raw, want := range map[string]string{`"x"`: "x", `null`: "", `42`: "42", `true`: "true", `{"a": [1, 2]}`: `{"a":[1,2]}`} {
		if got := envString(json.RawMessage(raw)); got != want {
			t.Errorf("envString(%s) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzInitPayload(f *testing.F) {
	f.Add([]byte(`{"value":{"name":"a","main":"main","binary":true,"code":"aGVsbG8=","env":{"K":"v","N":1}}}`))
	f.Add([]byte(`{"value":{"code":null,"env":null}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"value":{"code":"%%%","binary":true}}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := &recorder{}
		p := New(Config{Executor: rec, Stdout: io.Discard, Stderr: io.Discard, MaxBodyBytes: 1 << 16,
			Environ: []string{}, Setenv: func(string, string) error { return nil }})
		srv := httptest.NewRecorder()
		p.Handler().ServeHTTP(srv, httptest.NewRequest(http.MethodPost, "/init", bytes.NewReader(body)))
		resp := srv.Result()
		out, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Content-Length") != strconv.Itoa(len(out)) {
			t.Fatalf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), len(out))
		}
		if !json.Valid(out) {
			t.Fatalf("response is not JSON: %q", out)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if len(rec.inits) != 1 {
				t.Fatalf("200 without an executor init")
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusBadGateway:
			if len(rec.inits) != 0 {
				t.Fatalf("status %d after the executor accepted the code", resp.StatusCode)
			}
		default:
			t.Fatalf("unexpected status %d: %s", resp.StatusCode, out)
		}
	})
}
