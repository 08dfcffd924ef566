package imageproc

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestDecodeBase64(t *testing.T) {
	raw := []byte("\x89PNG\r\n\x1a\n any bytes \xff\xfe")
	std := base64.StdEncoding.EncodeToString(raw)
	cases := []struct {
		name, in string
		max      int
		want     []byte
		err      string
	}{
		{"standard", std, 1 << 20, raw, ""},
		{"unpadded", base64.RawStdEncoding.EncodeToString(raw), 1 << 20, raw, ""},
		{"unpadded, 1 byte over", base64.RawStdEncoding.EncodeToString(raw[:19]), 1 << 20, raw[:19], ""},
		{"unpadded, 2 bytes over", base64.RawURLEncoding.EncodeToString(raw[:20]), 1 << 20, raw[:20], ""},
		{"url-safe", base64.URLEncoding.EncodeToString(raw), 1 << 20, raw, ""},
		{"url-safe unpadded", base64.RawURLEncoding.EncodeToString(raw), 1 << 20, raw, ""},
		{"data url", "data:image/png;base64," + std, 1 << 20, raw, ""},
		{"white space around", " \n" + std + "\r\n", 1 << 20, raw, ""},
		{"empty", "", 1 << 20, nil, "empty"},
		{"only a data url prefix", "data:image/png;base64,", 1 << 20, nil, "empty"},
		{"not base64", "***", 1 << 20, nil, "not valid base64"},
		{"too large", std, 8, nil, "larger than 8 bytes"},
		{"truncated", std[:len(std)-3] + "=", 1 << 20, nil, "not valid base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeBase64(c.in, c.max)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, c.want) {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// FuzzDecodeBase64: never a panic, and the same bytes as the standard library's DecodeString
// with the first of the four encodings that accepts the text.
func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{"aGVsbG8=", "aGVsbG8", "-_-_", "data:x;base64,AAAA", " \nAA==\n", "***", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := DecodeBase64(s, 1<<20)
		if err != nil {
			return
		}
		trimmed := strings.TrimSpace(s)
		if i := strings.Index(trimmed, ";base64,"); strings.HasPrefix(trimmed, "data:") && i >= 0 {
			trimmed = trimmed[i+len(";base64,"):]
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if want, err := enc.DecodeString(trimmed); err == nil {
				if !bytes.Equal(got, want) {
					t.Fatalf("%q: %x, want %x", s, got, want)
				}
				return
			}
		}
		t.Fatalf("%q accepted, but no encoding decodes it", s)
	})
}
