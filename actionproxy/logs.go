package actionproxy

import (
	"bytes"
	"io"
	"sync"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

type stream int

const (
	streamStdout stream = iota
	streamStderr
)

// logSink owns the container's two log streams. Writes are whole lines under one lock, so that
// concurrent activations never interleave mid-line and sentinels never split another line.
type logSink struct {
	mu  sync.Mutex
	out [2]io.Writer
}

func newLogSink(stdout, stderr io.Writer) *logSink {
	return &logSink{out: [2]io.Writer{stdout, stderr}}
}

func (s *logSink) write(st stream, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out[st].Write(b)
}

func (s *logSink) line(st stream, text string) {
	s.write(st, []byte(text+"\n"))
}

// sentinels ends an activation's output on both streams.
func (s *logSink) sentinels() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out[streamStdout].Write([]byte(runtime.Sentinel + "\n"))
	s.out[streamStderr].Write([]byte(runtime.Sentinel + "\n"))
}

// activation returns one activation's stdout and stderr writers.
func (s *logSink) activation() (stdout, stderr *lineWriter) {
	return &lineWriter{sink: s, stream: streamStdout}, &lineWriter{sink: s, stream: streamStderr}
}

// lineWriter buffers a partial line and hands complete lines to the sink.
type lineWriter struct {
	mu      sync.Mutex
	sink    *logSink
	stream  stream
	partial []byte
}

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := p
	if len(w.partial) > 0 {
		data = append(w.partial, p...)
		w.partial = nil
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		w.sink.write(w.stream, data[:i+1])
		data = data[i+1:]
	}
	if len(data) > 0 {
		w.partial = append([]byte(nil), data...)
	}
	return len(p), nil
}

// Close flushes a trailing partial line, terminated with a newline.
func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.sink.write(w.stream, append(w.partial, '\n'))
		w.partial = nil
	}
	return nil
}
