// Package conformance is an independent Go port of OpenWhisk's runtime conformance suite (the
// harness of apache/openwhisk tests/src/test/scala/actionContainers/ActionContainer.scala and the
// cases of BasicActionRunnerTests.scala), plus platform-contract cases that suite does not cover
// and wasmwhisk's bad-input cases. It drives a real action container over HTTP — a proxy process, a Docker container — and
// reads what the container wrote to stdout and stderr, counting sentinels as OpenWhisk's harness does.
package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// Container is a running action container under test.
type Container struct {
	// URL is the container's base address, e.g. http://127.0.0.1:8080.
	URL string
	// Logs returns everything the container wrote to stdout and stderr so far.
	Logs func() (stdout, stderr string)
}

// Options start a container.
type Options struct {
	// Env is set in the container's environment (docker run -e), e.g. __OW_API_HOST.
	Env map[string]string
}

// Sample names the code samples a Suite must provide.
type Sample string

// The samples of the canonical suite.
const (
	Identity Sample = "identity" // returns its value unchanged (objects and arrays), prints nothing
	Echo     Sample = "echo"     // identity that prints "hello stdout" and "hello stderr"
	NotJSON  Sample = "notjson"  // returns a string
	Unicode  Sample = "unicode"  // {delimiter} → prints and returns {"winter": d+" ☃ "+d}
	Env      Sample = "env"      // returns the seven __OW_* context variables
	LoadEnv  Sample = "loadenv"  // returns SOME_VAR and ANOTHER_VAR as read at load time
	Loud     Sample = "loud"     // {lines} → prints that many numbered 1 KiB lines to stdout
)

// Suite describes the runtime under test.
type Suite struct {
	// Start starts a fresh container; it is stopped by t.Cleanup.
	Start func(t *testing.T, opts Options) *Container
	// Code returns the /init code string (base64 for binaries) of a sample.
	Code func(t *testing.T, s Sample) string
	// HasCodeStub is true for images that run a built-in action when /init has no code.
	HasCodeStub bool
	// Concurrent is true when the runtime serves concurrent /run calls when started with
	// __OW_ALLOW_CONCURRENT=true.
	Concurrent bool
}

// Client talks to one container with the harness' 30 s timeout.
type Client struct {
	t   testing.TB
	c   *Container
	hc  *http.Client
	url string
}

// Response is a raw reply from the container.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
	// ContentLength and TransferEncoding as received.
	ContentLength    int64
	TransferEncoding []string
}

// Object parses the body as a JSON object (nil if it is not one).
func (r Response) Object() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// NewClient returns a client for c.
func NewClient(t testing.TB, c *Container) *Client {
	return &Client{t: t, c: c, hc: &http.Client{Timeout: 30 * time.Second}, url: strings.TrimSuffix(c.URL, "/")}
}

// URL is the container's base address.
func (cl *Client) URL() string { return cl.url }

// Post sends a raw body to path, retrying while the connection is refused (as the invoker does
// for /init), for at most 10 s.
func (cl *Client) Post(path string, body []byte) Response {
	cl.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := cl.hc.Post(cl.url+path, "application/json", bytes.NewReader(body))
		if err != nil {
			if strings.Contains(err.Error(), "connection refused") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			cl.t.Fatalf("POST %s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			cl.t.Fatalf("POST %s: read: %v", path, err)
		}
		return Response{Status: resp.StatusCode, Body: b, Header: resp.Header, ContentLength: resp.ContentLength, TransferEncoding: resp.TransferEncoding}
	}
}

// PostJSON marshals v and posts it.
func (cl *Client) PostJSON(path string, v any) Response {
	cl.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		cl.t.Fatal(err)
	}
	return cl.Post(path, b)
}

// InitPayload is the harness' initPayload: no name, env null unless given, binary by the
// controller's base64 rule.
func InitPayload(code *string, main string, env map[string]string) map[string]any {
	v := map[string]any{"main": main, "binary": false, "env": nil}
	if code != nil {
		v["code"] = *code
		v["binary"] = IsBinaryCode(*code)
	} else {
		v["code"] = nil
	}
	if env != nil {
		v["env"] = env
	}
	return map[string]any{"value": v}
}

// IsBinaryCode is the controller's rule for the binary flag (Exec.isBinaryCode in apache/openwhisk
// common/scala/src/main/scala/org/apache/openwhisk/core/entity/Exec.scala).
func IsBinaryCode(code string) bool { return archive.IsBase64(code) }

// Init posts the init payload for code.
func (cl *Client) Init(code string, main string, env map[string]string) Response {
	cl.t.Helper()
	return cl.PostJSON("/init", InitPayload(&code, main, env))
}

// Run posts {"value": value} plus the extra top-level fields.
func (cl *Client) Run(value any, extra map[string]any) Response {
	cl.t.Helper()
	body := map[string]any{"value": value}
	for k, v := range extra {
		body[k] = v
	}
	return cl.PostJSON("/run", body)
}

// Streams waits until each stream holds at least want sentinels (at most 5 s), then returns both
// streams and their sentinel counts.
func (cl *Client) Streams(want int) (stdout, stderr string, nOut, nErr int) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		stdout, stderr = cl.c.Logs()
		nOut, nErr = strings.Count(stdout, runtime.Sentinel), strings.Count(stderr, runtime.Sentinel)
		if (nOut >= want && nErr >= want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// As OpenWhisk's harness: a short grace for late output, then read again.
	time.Sleep(100 * time.Millisecond)
	stdout, stderr = cl.c.Logs()
	return stdout, stderr, strings.Count(stdout, runtime.Sentinel), strings.Count(stderr, runtime.Sentinel)
}

// CheckStreams is the harness' checkStreams: each stream holds exactly n sentinels; with them
// removed and the text trimmed, check runs on what is left.
func (cl *Client) CheckStreams(n int, check func(stdout, stderr string)) {
	cl.t.Helper()
	out, errs, nOut, nErr := cl.Streams(n)
	if nOut != n || nErr != n {
		cl.t.Fatalf("sentinels: stdout %d, stderr %d, want %d each\nstdout:\n%s\nstderr:\n%s", nOut, nErr, n, out, errs)
	}
	if check != nil {
		check(strings.TrimSpace(strings.ReplaceAll(out, runtime.Sentinel, "")), strings.TrimSpace(strings.ReplaceAll(errs, runtime.Sentinel, "")))
	}
}

// B64 base64-encodes an artifact as the wsk CLI does.
func B64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("body = %s, want %s", gb, wb)
	}
}

// waitRun posts a run and returns its response, failing on transport errors.
func waitRun(ctx context.Context, cl *Client, value any) (Response, error) {
	b, _ := json.Marshal(map[string]any{"value": value})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cl.url+"/run", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.hc.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("read: %w", err)
	}
	return Response{Status: resp.StatusCode, Body: body}, nil
}
