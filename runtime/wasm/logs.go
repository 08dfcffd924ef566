package wasm

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// lastLine finds the result in a command's stdout: the last non-blank line. It returns where the
// logs before that line end and the line itself (without surrounding whitespace).
func lastLine(f io.ReaderAt, size, maxResult int64) (logEnd int64, result []byte, err error) {
	const chunk = 64 << 10
	// Skip trailing whitespace.
	end := size
	buf := make([]byte, chunk)
	for end > 0 {
		n := min(int64(chunk), end)
		if _, err := f.ReadAt(buf[:n], end-n); err != nil && err != io.EOF {
			return size, nil, fmt.Errorf("wasm: read stdout: %w", err)
		}
		i := bytes.LastIndexFunc(buf[:n], func(r rune) bool { return !isSpace(r) })
		if i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == 0 {
		return 0, nil, nil
	}
	// Find the newline before it.
	start := end
	for start > 0 {
		n := min(int64(chunk), start)
		if _, err := f.ReadAt(buf[:n], start-n); err != nil && err != io.EOF {
			return size, nil, fmt.Errorf("wasm: read stdout: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			start = start - n + int64(i) + 1
			break
		}
		start -= n
		if end-start > maxResult {
			return size, nil, runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("the action's result (its last line of stdout) is longer than the limit of %d bytes", maxResult), nil)
		}
	}
	if end-start > maxResult {
		return size, nil, runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("the action's result (its last line of stdout) is longer than the limit of %d bytes", maxResult), nil)
	}
	result = make([]byte, end-start)
	if _, err := f.ReadAt(result, start); err != nil && err != io.EOF {
		return size, nil, fmt.Errorf("wasm: read stdout: %w", err)
	}
	return start, bytes.TrimSpace(result), nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// msgLogsTruncated is OpenWhisk's truncation line (common/scala/.../http/ErrorResponse.scala,
// Messages.truncateLogs).
const msgLogsTruncated = "Logs were truncated because the total bytes size exceeds the limit of %d bytes."

// copyLog copies bytes [off, end) of src to dst, at most limit of them and only whole lines
// (as OpenWhisk's invoker keeps them), then, when there were more, OpenWhisk's truncation line to
// note (the activation's stderr, where the invoker puts it). The copy always ends with a newline,
// so that whatever the caller writes next (the activation sentinel) starts a line. It streams
// through a small buffer: memory does not grow with the output.
func copyLog(dst, note io.Writer, src io.ReaderAt, off, end, limit int64) error {
	n := end - off
	if dst == nil || n <= 0 {
		return nil
	}
	keep := n
	if n > limit {
		var err error
		if keep, err = wholeLines(src, off, limit); err != nil {
			return err
		}
	}
	w := &lastByteWriter{w: dst}
	if _, err := io.Copy(w, io.NewSectionReader(src, off, keep)); err != nil {
		return err
	}
	if w.last != '\n' && keep > 0 {
		if _, err := io.WriteString(dst, "\n"); err != nil {
			return err
		}
	}
	if n > limit {
		if note == nil {
			note = dst
		}
		_, err := fmt.Fprintf(note, msgLogsTruncated+"\n", limit)
		return err
	}
	return nil
}

// wholeLines is how many of the limit bytes from off end with the last newline among them; a
// first line longer than the limit is cut at the limit.
func wholeLines(src io.ReaderAt, off, limit int64) (int64, error) {
	const window = 64 << 10
	buf := make([]byte, min(window, limit))
	for end := limit; end > 0; {
		n := min(int64(len(buf)), end)
		if _, err := src.ReadAt(buf[:n], off+end-n); err != nil && err != io.EOF {
			return 0, fmt.Errorf("wasm: read log: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return limit, nil
}

// lastByteWriter remembers the last byte written through it.
type lastByteWriter struct {
	w    io.Writer
	last byte
}

func (l *lastByteWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}
