package standalone

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestInitPayload: the /init body is valid JSON with the code as stored, whether the code is
// spliced in (binary) or marshalled (text), and with the init env of SPEC §1.2.
func TestInitPayload(t *testing.T) {
	iv := &invoker{}
	for _, c := range []struct {
		name, code string
		binary     bool
		want       any
	}{
		{"binary", "AGFzbQEAAAA=", true, "AGFzbQEAAAA="},
		{"binary with white space", "\n AGFzbQEAAAA=\n", true, "AGFzbQEAAAA="},
		{"text", "#!/bin/sh\necho \"hi\"\n", false, "#!/bin/sh\necho \"hi\"\n"},
		{"none", "", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := c.code
			a := &Action{Namespace: "guest", Name: "x", Version: "0.0.1",
				Exec:       Exec{Kind: KindWasm, Code: &code, Binary: c.binary},
				Parameters: []KeyValue{{Key: "K", Value: json.RawMessage(`{"a":1}`), Init: true}}}
			inv := &invocation{action: a, namespace: "guest", activationID: "id", transID: "tx"}
			body := iv.initPayload(inv, time.UnixMilli(1234))
			var msg struct {
				Value map[string]any `json:"value"`
			}
			if err := json.Unmarshal(body, &msg); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if got := msg.Value["code"]; !reflect.DeepEqual(got, c.want) {
				t.Fatalf("code = %#v, want %#v", got, c.want)
			}
			env, _ := msg.Value["env"].(map[string]any)
			if env["K"] != `{"a":1}` || env["__OW_DEADLINE"] != "1234" || env["__OW_ACTION_NAME"] != "/guest/x" {
				t.Fatalf("env = %v", env)
			}
			if msg.Value["binary"] != c.binary || msg.Value["name"] != "x" || msg.Value["main"] != "main" {
				t.Fatalf("value = %v", msg.Value)
			}
		})
	}
}

// TestJavaLength: response.size counts UTF-16 code units, as Java's String.length does.
func TestJavaLength(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{`{"a":1}`, 7},
		{"é", 1},            // two bytes, one unit
		{"€", 1},            // three bytes, one unit
		{"😀", 2},            // four bytes, a surrogate pair
		{"a\xffb", 3},       // a byte that is not UTF-8: one U+FFFD
		{"\xed\xa0\x80", 3}, // an encoded surrogate is three bad bytes
	} {
		if got := javaLength([]byte(c.in)); got != c.want {
			t.Errorf("javaLength(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
