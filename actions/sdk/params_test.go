package sdk

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// referenceDecode is what decodeJSON must equal: encoding/json alone.
func referenceDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// long expands every '~' of s into a plain string long enough to be lifted.
func long(s string) []byte {
	return []byte(strings.ReplaceAll(s, "~", strings.Repeat("QUJD+/09", liftMin/8+3)))
}

func TestDecodeJSONAgreesWithEncodingJSON(t *testing.T) {
	img := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0, 1, 2, 250, 255}, 3000))
	cases := []string{
		`{"value":{"image":"` + img + `","top":5},"activation_id":"x","deadline":"123"}`,
		`{"image":"~"}`,
		`{"a":["~","~",{"b":"~"}],"c":"~","n":1.5e3,"t":true,"f":false,"z":null}`,
		`{"~":"~"}`,               // a long key is not lifted
		`{"~" : "~" , "k":"~"}`,   // white space around the colon
		`{"a":"~\u0000"}`,         // \u0000 somewhere: encoding/json alone
		`{"a":"\u0000","b":"~"}`,  // in another string
		`{"a":"~\\u0000"}`,        // an escaped backslash, then plain text
		`{"a":"~\n~"}`,            // an escape inside: not plain
		`{"a":"~é~"}`,             // non-ASCII inside: not plain
		"{\"a\":\"~\x01\"}",       // a raw control character: invalid
		`{"a":"~`,                 // unterminated
		`{"a":"~"} x`,             // trailing garbage
		`{"a":"~"} {}`,            // a second value
		`{"a":"~"}   `,            // trailing white space
		`["~",1,"~"]`,             // arrays
		`"~"`,                     // a bare string
		`{"a":"~",}`,              // a trailing comma
		`{"a":"~" "b":1}`,         // a missing comma
		`{"a":~}`,                 // not a string at all
		`{"a":"` + "\x7f" + `~"}`, // DEL stands for itself
		`{"a":"~","a":"short"}`,   // duplicate keys: the last wins
		`{"a":"short","a":"~"}`,
		``, ` `, `null`, `{}`, `[]`, `{"a":"\"~\""}`,
	}
	for _, c := range cases {
		data := long(c)
		want, werr := referenceDecode(data)
		got, gerr := decodeJSON(data)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%.60q: error %v, encoding/json says %v", c, gerr, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%.60q: decoded differently", c)
		}
	}
}

func TestDecodeJSONLifts(t *testing.T) {
	data := long(`{"value":{"image":"~"},"k":"short"}`)
	reduced, lifted, ok := liftStrings(data)
	if !ok || len(lifted) != 1 || len(reduced) > 64 {
		t.Fatalf("lifted %d strings, reduced to %q", len(lifted), reduced)
	}
}

// FuzzDecodeJSON: decodeJSON accepts exactly what encoding/json accepts and decodes it the same,
// also with every '~' grown into a string long enough to be lifted.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"value":{"image":"~"}}`, `["~",{"~":"~"}]`, `{"a":"~\u0000"}`, `"~\"`, `{"a":"~\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range [][]byte{data, bytes.ReplaceAll(data, []byte("~"), bytes.Repeat([]byte("A"), liftMin+1))} {
			want, werr := referenceDecode(d)
			got, gerr := decodeJSON(d)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%q: error %v, encoding/json says %v", d, gerr, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: decoded differently", d)
			}
		}
	})
}

// BenchmarkDecodeJSON decodes a /run line carrying a 0.9 MB image as base64, with decodeJSON and
// with encoding/json alone.
//
//	go test -run '^$' -bench DecodeJSON ./actions/sdk
func BenchmarkDecodeJSON(b *testing.B) {
	img := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7, 200, 33, 90}, 230000))
	line := []byte(`{"value":{"image":"` + img + `","top":5},"activation_id":"a","deadline":"1"}`)
	for _, c := range []struct {
		name   string
		decode func([]byte) (any, error)
	}{{"decodeJSON", decodeJSON}, {"encoding-json", referenceDecode}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for i := 0; i < b.N; i++ {
				if _, err := c.decode(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
