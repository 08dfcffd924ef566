package imageproc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// DecodeBase64 decodes an image sent as text: standard or URL-safe base64, padded or not,
// optionally as a data: URL, surrounded by white space; the result may not exceed max bytes.
func DecodeBase64(s string, max int) ([]byte, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ";base64,"); strings.HasPrefix(s, "data:") && i >= 0 {
		s = s[i+len(";base64,"):]
	}
	if len(s) == 0 {
		return nil, errors.New("image is empty")
	}
	if base64.StdEncoding.DecodedLen(len(s)) > max {
		return nil, fmt.Errorf("image is larger than %d bytes", max)
	}
	// Decode from the string's bytes in place (DecodeString would copy them first); Decode only
	// reads its source.
	src := unsafe.Slice(unsafe.StringData(s), len(s))
	dst := make([]byte, base64.RawStdEncoding.DecodedLen(len(s))) // the longest of the four
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if n, err := enc.Decode(dst, src); err == nil {
			return dst[:n], nil
		}
	}
	return nil, errors.New("image is not valid base64")
}
