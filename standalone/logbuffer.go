package standalone

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// LogBuffer collects a container's stdout and stderr lines and hands them out per activation,
// split at the sentinels, as Container.Logs must. Backends feed it through Writer (for pipes) or
// Add (for already split lines, e.g. Docker's log stream). Safe for concurrent use.
type LogBuffer struct {
	mu      sync.Mutex
	pending []LogLine
	changed chan struct{} // closed and replaced whenever pending grows
	closed  bool
}

// NewLogBuffer returns an empty buffer.
func NewLogBuffer() *LogBuffer {
	return &LogBuffer{changed: make(chan struct{})}
}

// Add appends one line (without its newline) written to stream at t.
func (b *LogBuffer) Add(stream, text string, t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, LogLine{Time: t, Stream: stream, Text: text})
	close(b.changed)
	b.changed = make(chan struct{})
}

// CloseInput marks the end of both streams (the container exited): waiting Collect calls return
// at once instead of waiting for sentinels that will never come.
func (b *LogBuffer) CloseInput() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.changed)
		b.changed = make(chan struct{})
	}
}

// Writer returns an io.Writer that splits what is written to it into lines of stream, stamping
// each with the time its newline arrived. Each call returns a new writer with its own partial
// line; use one writer per stream.
func (b *LogBuffer) Writer(stream string) io.Writer {
	return &lineWriter{buf: b, stream: stream}
}

type lineWriter struct {
	mu      sync.Mutex
	buf     *LogBuffer
	stream  string
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			return n, nil
		}
		line := p[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		w.buf.Add(w.stream, strings.TrimSuffix(string(line), "\r"), time.Now().UTC())
		p = p[i+1:]
	}
}

// Collect implements Container.Logs on top of the buffer: it returns and removes the lines of the
// next activation (see the Backend contract).
func (b *LogBuffer) Collect(ctx context.Context, waitForSentinels bool) ([]LogLine, error) {
	for {
		b.mu.Lock()
		if !waitForSentinels {
			out := dropSentinels(b.pending)
			b.pending = nil
			b.mu.Unlock()
			return out, nil
		}
		outIdx, errIdx := -1, -1
		for i, l := range b.pending {
			if !strings.Contains(l.Text, runtime.Sentinel) {
				continue
			}
			if l.Stream == "stdout" && outIdx < 0 {
				outIdx = i
			} else if l.Stream == "stderr" && errIdx < 0 {
				errIdx = i
			}
		}
		if outIdx >= 0 && errIdx >= 0 {
			var out, rest []LogLine
			for i, l := range b.pending {
				cut := outIdx
				if l.Stream == "stderr" {
					cut = errIdx
				}
				switch {
				case i < cut:
					out = append(out, l)
				case i > cut:
					rest = append(rest, l)
				}
			}
			b.pending = rest
			b.mu.Unlock()
			return out, nil
		}
		if b.closed {
			out := dropSentinels(b.pending)
			b.pending = nil
			b.mu.Unlock()
			return out, ErrLogsIncomplete
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			b.mu.Lock()
			out := dropSentinels(b.pending)
			b.pending = nil
			b.mu.Unlock()
			return out, ErrLogsIncomplete
		}
	}
}

// Settle waits until the input has ended, or no line has arrived for quiet, or max has passed:
// for a backend whose logs arrive asynchronously (Docker's log stream), what a container wrote
// just before it died may still be on its way when the invoker collects without sentinels.
func (b *LogBuffer) Settle(ctx context.Context, quiet, max time.Duration) {
	limit := time.NewTimer(max)
	defer limit.Stop()
	for {
		b.mu.Lock()
		closed, changed := b.closed, b.changed
		b.mu.Unlock()
		if closed {
			return
		}
		idle := time.NewTimer(quiet)
		select {
		case <-changed:
			idle.Stop()
		case <-idle.C:
			return
		case <-limit.C:
			idle.Stop()
			return
		case <-ctx.Done():
			idle.Stop()
			return
		}
	}
}

func dropSentinels(lines []LogLine) []LogLine {
	out := make([]LogLine, 0, len(lines))
	for _, l := range lines {
		if !strings.Contains(l.Text, runtime.Sentinel) {
			out = append(out, l)
		}
	}
	return out
}
