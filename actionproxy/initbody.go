package actionproxy

import (
	"bytes"
	"errors"
)

// An /init body carries the action's code, base64-encoded: tens of megabytes for a wasm module with
// its model. encoding/json scans and copies such a string at about 200 MB/s, which would put ~25 ms
// per 5 MB into every cold start's initTime. splitCode finds value.code with a skimmer that only
// looks for quotes and backslashes (bytes.IndexByte), so that the proxy can decode the small rest
// with encoding/json and the code straight from the request bytes.

var errSkim = errors.New("not a JSON object the skimmer handles")

// splitCode returns the body with the string value of value.code replaced by null, and the raw
// bytes between that string's quotes. ok is false when the body has no such string, when the
// string has escapes (only then would its raw bytes differ from its value), or when the skimmer
// meets something it does not understand; the caller then decodes the whole body as usual, which
// also produces the exact error for malformed JSON.
func splitCode(body []byte) (rest, code []byte, ok bool) {
	sk := skimmer{b: body}
	start, end, err := sk.findCode()
	if err != nil || start < 0 || end-start < 2 || end > len(body) {
		return nil, nil, false
	}
	raw := body[start+1 : end-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		return nil, nil, false
	}
	rest = make([]byte, 0, len(body)-len(raw)+4)
	rest = append(append(append(rest, body[:start]...), "null"...), body[end:]...)
	return rest, raw, true
}

type skimmer struct {
	b []byte
	i int
}

func (s *skimmer) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *skimmer) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// str skips a string starting at the quote under the cursor.
func (s *skimmer) str() error {
	if s.peek() != '"' {
		return errSkim
	}
	s.i++
	for {
		// IndexByte is vectorised; base64 has no backslashes, so one search usually ends it.
		q := bytes.IndexByte(s.b[s.i:], '"')
		if q < 0 {
			return errSkim
		}
		bs := bytes.IndexByte(s.b[s.i:s.i+q], '\\')
		if bs < 0 {
			s.i += q + 1
			return nil
		}
		s.i += bs + 2 // a backslash and the byte it escapes
		if s.i > len(s.b) {
			return errSkim
		}
	}
}

// value skips any JSON value.
func (s *skimmer) value(depth int) error {
	if depth > 64 {
		return errSkim
	}
	switch s.peek() {
	case '"':
		return s.str()
	case '{':
		return s.object(depth, nil)
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return errSkim
			}
		}
	case 0:
		return errSkim
	default: // number, true, false, null
		start := s.i
		for s.i < len(s.b) && !bytes.ContainsRune([]byte(" \t\r\n,]}"), rune(s.b[s.i])) {
			s.i++
		}
		if s.i == start {
			return errSkim
		}
		return nil
	}
}

// object skips an object; for each member it calls member with the key (quotes included), which
// may consume the value itself and return true.
func (s *skimmer) object(depth int, member func(key []byte) (bool, error)) error {
	if s.peek() != '{' {
		return errSkim
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		k := s.i
		if err := s.str(); err != nil {
			return err
		}
		key := s.b[k:s.i]
		if s.peek() != ':' {
			return errSkim
		}
		s.i++
		consumed := false
		if member != nil {
			var err error
			if consumed, err = member(key); err != nil {
				return err
			}
		}
		if !consumed {
			if err := s.value(depth + 1); err != nil {
				return err
			}
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errSkim
		}
	}
}

// findCode returns the span, quotes included, of the string value of value.code (start -1 if
// there is none). A repeated "value" or "code" key makes it give up: which one counts is
// encoding/json's business.
func (s *skimmer) findCode() (start, end int, err error) {
	start, end = -1, -1
	seen, values := 0, 0
	err = s.object(0, func(key []byte) (bool, error) {
		if string(key) != `"value"` {
			return false, nil
		}
		values++
		if s.peek() != '{' {
			return false, nil
		}
		return true, s.object(1, func(key []byte) (bool, error) {
			if string(key) != `"code"` || s.peek() != '"' {
				return false, nil
			}
			seen++
			start = s.i
			err := s.str()
			end = s.i
			return true, err
		})
	})
	if err == nil && s.peek() != 0 {
		err = errSkim // trailing data: let encoding/json report it
	}
	if seen > 1 || values > 1 {
		return -1, -1, errSkim
	}
	return start, end, err
}
