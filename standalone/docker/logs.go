package docker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxLogFrame bounds one frame of the multiplexed log stream. The json-file driver splits lines
// at 16 KiB, so a larger frame means the stream is not what DemuxLogs expects.
const MaxLogFrame = 1 << 20

// DemuxLogs reads the Engine API's multiplexed stream format (each frame: one byte stream id,
// three zero bytes, a big-endian uint32 length, then that many bytes) as produced by Logs with
// timestamps, and calls emit once per complete line with the stream name ("stdout"/"stderr"),
// the engine's timestamp of the line and its text without the newline. Lines the engine split
// into several frames (longer than 16 KiB) are joined again and carry the first part's time.
// At the end of the stream an unfinished line is emitted as it is. It returns nil at EOF.
func DemuxLogs(r io.Reader, emit func(stream string, t time.Time, text string)) error {
	var hdr [8]byte
	partial := map[string]*pendingLine{}
	flush := func() {
		for _, name := range []string{"stdout", "stderr"} {
			if p := partial[name]; p != nil && p.text.Len() > 0 {
				emit(name, p.t, p.text.String())
				p.text.Reset()
			}
		}
	}
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				flush()
				return nil
			}
			flush()
			return fmt.Errorf("docker logs: frame header: %w", err)
		}
		var stream string
		switch hdr[0] {
		case 1:
			stream = "stdout"
		case 2:
			stream = "stderr"
		default:
			return fmt.Errorf("docker logs: unknown stream id %d (is the container a TTY?)", hdr[0])
		}
		if hdr[1] != 0 || hdr[2] != 0 || hdr[3] != 0 {
			return fmt.Errorf("docker logs: malformed frame header % x", hdr)
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		if n > MaxLogFrame {
			return fmt.Errorf("docker logs: frame of %d bytes exceeds %d", n, MaxLogFrame)
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			flush()
			return fmt.Errorf("docker logs: frame payload: %w", err)
		}
		p := partial[stream]
		if p == nil {
			p = &pendingLine{}
			partial[stream] = p
		}
		p.add(payload, stream, emit)
	}
}

type pendingLine struct {
	t    time.Time
	text strings.Builder
}

// add takes one frame's payload: "<RFC3339Nano timestamp> <text>" where text may lack its newline
// (a split line) or, in principle, hold several lines.
func (p *pendingLine) add(payload []byte, stream string, emit func(string, time.Time, string)) {
	t, rest := splitTimestamp(payload)
	for len(rest) > 0 {
		if p.text.Len() == 0 {
			p.t = t
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			p.text.Write(rest)
			return
		}
		p.text.Write(bytes.TrimSuffix(rest[:i], []byte("\r")))
		emit(stream, p.t, p.text.String())
		p.text.Reset()
		rest = rest[i+1:]
	}
}

// splitTimestamp separates the engine's timestamp prefix from a frame; a frame without one gets
// the current time.
func splitTimestamp(b []byte) (time.Time, []byte) {
	if i := bytes.IndexByte(b, ' '); i > 0 && i <= 40 {
		if t, err := time.Parse(time.RFC3339Nano, string(b[:i])); err == nil {
			return t, b[i+1:]
		}
	}
	return time.Now().UTC(), b
}
