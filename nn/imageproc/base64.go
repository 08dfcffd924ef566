package imageproc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
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
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("image is not valid base64")
}
