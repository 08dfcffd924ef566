package actionproxy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// checkSplit verifies the proxy's fast path against encoding/json on one body: whenever the fast
// path is taken (splitCode answers, the code is base64 and the rest is valid JSON), the body is
// valid JSON, the code is what encoding/json reads, and the rest decodes to the same message with
// code null.
func checkSplit(t *testing.T, body []byte) bool {
	rest, code, ok := splitCode(body)
	if !ok {
		return false
	}
	var full, part map[string]any
	if len(code) == 0 || bytes.ContainsAny(code, "\r\n") || json.Unmarshal(rest, &part) != nil {
		return false
	}
	if _, err := decodeBase64Strict(code); err != nil {
		return false
	}
	if !archive.IsBase64Bytes(code) {
		t.Fatalf("the fast path decoded %q, which the controller's rule says is not base64", code)
	}
	if err := json.Unmarshal(body, &full); err != nil {
		t.Fatalf("the fast path accepted invalid JSON %q: %v", body, err)
	}
	value, _ := full["value"].(map[string]any)
	if got, _ := value["code"].(string); got != string(code) {
		t.Fatalf("code %q, encoding/json reads %q", code, got)
	}
	value["code"] = nil
	if !reflect.DeepEqual(full, part) {
		t.Fatalf("rest decodes to %v, want %v", part, full)
	}
	return true
}

func TestSplitCode(t *testing.T) {
	cases := []struct {
		body string
		ok   bool
	}{
		{`{"value":{"name":"a","code":"aGVsbG8=","binary":true,"env":{"K":"v"}}}`, true},
		{`{"value":{"code":"aGVsbG8="},"\u0000":{}}`, true},
		{` { "value" : { "env" : {"code":"x"} , "code" : "aGVsbG8=" } } `, true},
		{`{"other":{"code":"no"},"value":{"main":"m","code":"YQ=="}}`, true},
		{`{"value":{"code":"with \" escape"}}`, false},
		{`{"value":{"code":"not base64!"}}`, false},
		{`{"value":{"code":null}}`, false},
		{`{"value":{"code":"a"},"value":{"code":"b"}}`, false},
		{`{"value":{"code":"a","code":"b"}}`, false},
		{`{"value":{"code":"YQ=="}} trailing`, false},
		{`{"value":{"code":"YQ==`, false},
		{`[{"value":{"code":"YQ=="}}]`, false},
		{`{"value":[1,2,{"code":"x"}],"n":-1.5e3,"t":true}`, false},
	}
	for _, c := range cases {
		if got := checkSplit(t, []byte(c.body)); got != c.ok {
			t.Errorf("splitCode(%s) ok = %v, want %v", c.body, got, c.ok)
		}
	}
}

func FuzzSplitCode(f *testing.F) {
	f.Add([]byte(`{"value":{"name":"a","code":"aGVsbG8=","binary":true,"env":{"K":"v","N":[1,{"x":null}]}}}`))
	f.Add([]byte(`{"value":{"code":"a\"b"}}`))
	f.Add([]byte(`{"value":{"code":"x"},"value":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkSplit(t, body) })
}
