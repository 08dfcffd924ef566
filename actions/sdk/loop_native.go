//go:build !wasip1

package sdk

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// Serve runs the actionloop protocol: it reads one JSON activation per line on stdin, runs the
// handler, and writes the result as one line on file descriptor 3, until stdin closes. When fd 3
// is not the pipe an actionloop proxy passes (the executable was started by hand), results go to
// stdout instead.
func Serve() {
	out := os.NewFile(3, "actionloop-result")
	if out == nil || !isPipe(out) {
		out = os.Stdout
	}
	if err := serveLoop(os.Stdin, out, os.Getenv("__OW_WAIT_FOR_ACK") != ""); err != nil {
		fmt.Fprintln(os.Stderr, "actionloop:", err)
		os.Exit(1)
	}
}

// isPipe reports whether f is a pipe. An open fd 3 alone proves nothing: without a proxy, the Go
// runtime itself may hold fd 3 (its epoll descriptor).
func isPipe(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeNamedPipe != 0
}

// serveLoop is the actionloop protocol over the given streams.
func serveLoop(in io.Reader, out io.Writer, ack bool) error {
	if ack {
		if _, err := io.WriteString(out, "{\"ok\":true}\n"); err != nil {
			return fmt.Errorf("write ack: %w", err)
		}
	}
	r := bufio.NewReaderSize(in, 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && !(len(line) == 1 && line[0] == '\n') {
			result := runLine(line)
			// Flush nothing: os.Stdout and os.Stderr are unbuffered, so every log line the handler
			// wrote is in the proxy's streams before the result reaches it.
			if _, werr := out.Write(append(result, '\n')); werr != nil {
				return fmt.Errorf("write result: %w", werr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read activation: %w", err)
		}
	}
}
