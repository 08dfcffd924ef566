package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unsafe"
)

// decodeJSON decodes one JSON document as json.Decoder with UseNumber decodes it into an any
// (objects as map[string]any, arrays as []any, numbers as json.Number), rejecting anything after
// it but white space, as json.Unmarshal does; the result and the accepted documents are the same.
// The long strings it cuts out (below) are returned without a copy, as views of data: data must
// not change afterwards. Every caller passes a buffer made for this one activation and never
// written again (the actionloop's ReadBytes, the command's ReadAll, the reactor's
// wasmwhisk_alloc, which makes a new buffer every time).
//
// It exists for speed: an activation's parameters often carry a large base64 string (an image),
// and encoding/json spends tens of nanoseconds per byte on it, several times over (validation,
// scanning, unquoting), which in Go's wasm code is slower than a host-run MobileNet inference. So
// before encoding/json sees the document, every string literal of at least liftMin bytes made
// only of bytes that stand for themselves (0x20..0x7f other than '"' and '\\': base64 is) and not
// an object key is cut out by a word-at-a-time scan and replaced by a short placeholder string;
// encoding/json decodes what is left, with all its checks, and the placeholders are then replaced
// by the strings cut out. A placeholder is "\u0000" followed by its number: no other string can
// decode to one, because a document containing the escape \u0000 anywhere is decoded by
// encoding/json alone.
func decodeJSON(data []byte) (any, error) {
	reduced, lifted, ok := liftStrings(data)
	if !ok || len(lifted) == 0 {
		reduced, lifted = data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(reduced))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	if len(lifted) == 0 {
		return v, nil
	}
	return restore(v, lifted), nil
}

// liftMin is the length from which a plain string literal is cut out (shorter ones cost
// encoding/json little).
const liftMin = 256

// liftStrings returns data with its long plain string literals replaced by placeholders, and the
// literals' contents in order. ok is false when data contains the escape \u0000 (then the
// placeholders could be confused with strings of the document).
func liftStrings(data []byte) (reduced []byte, lifted [][]byte, ok bool) {
	last := 0 // data[:last] is in reduced
	for i := 0; i < len(data); {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end, plain, nul := scanString(data, start)
		if nul {
			return nil, nil, false
		}
		i = end
		if !plain || end-start-2 < liftMin || isKey(data, end) {
			continue
		}
		if reduced == nil {
			reduced = make([]byte, 0, 64+len(data)/64)
		}
		reduced = append(reduced, data[last:start]...)
		reduced = append(reduced, `"\u0000`...)
		reduced = strconv.AppendInt(reduced, int64(len(lifted)), 10)
		reduced = append(reduced, '"')
		lifted = append(lifted, data[start+1:end-1])
		last = end
	}
	if lifted == nil {
		return data, nil, true
	}
	return append(reduced, data[last:]...), lifted, true
}

// isKey reports whether the string literal ending before data[end] is an object key.
func isKey(data []byte, end int) bool {
	for ; end < len(data); end++ {
		switch data[end] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// notPlain is zero exactly when all eight bytes of w are in 0x20..0x7f and none is '"' or '\\'.
// Each term is the classic exact test for "some byte is": >= 0x80 (its high bit), < 0x20 (the
// subtraction borrows into the high bit; a borrow only starts at such a byte), equal to a value
// (that byte of the xor is zero).
func notPlain(w uint64) uint64 {
	q, s := w^('"'*ones), w^('\\'*ones)
	return (w | (w - 0x20*ones) | ((q - ones) &^ q) | ((s - ones) &^ s)) & highs
}

// word is the little-endian uint64 at data[i:i+8], which the caller has checked is in range:
// one load in wasm, where binary.LittleEndian's is eight.
func word(data []byte, i int) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(data)), i))
}

// scanString returns the end (just past the closing quote) of the string literal at data[start]
// == '"', whether its content is plain (nothing escaped, every byte in 0x20..0x7f), and whether
// it contains the escape \u0000. An unterminated literal ends at len(data) and is not plain.
func scanString(data []byte, start int) (end int, plain, nul bool) {
	plain = true
	j := start + 1
	for {
		for j+16 <= len(data) && notPlain(word(data, j))|notPlain(word(data, j+8)) == 0 {
			j += 16
		}
		for j+8 <= len(data) && notPlain(word(data, j)) == 0 {
			j += 8
		}
		if j >= len(data) {
			return len(data), false, nul
		}
		switch c := data[j]; {
		case c == '"':
			return j + 1, plain, nul
		case c == '\\':
			plain = false
			if bytes.HasPrefix(data[j+1:], []byte("u0000")) {
				nul = true
			}
			j += 2
		case c < 0x20 || c >= 0x80:
			plain = false
			j++
		default:
			j++
		}
	}
}

// restore replaces the placeholders in v by the lifted strings.
func restore(v any, lifted [][]byte) any {
	switch x := v.(type) {
	case string:
		if len(x) > 1 && x[0] == 0 {
			if k, err := strconv.Atoi(x[1:]); err == nil && k >= 0 && k < len(lifted) {
				return unsafe.String(unsafe.SliceData(lifted[k]), len(lifted[k]))
			}
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = restore(e, lifted)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = restore(e, lifted)
		}
		return x
	}
	return v
}
