package wasinn

import (
	"fmt"
	"io"
)

// maxLogLines caps the lines kept between two drains: a guest failing calls in a loop gets the
// first ones and a count, not a log that fills the host's memory.
const maxLogLines = 20

// logBuffer holds an instance's log lines until the executor copies them to the activation's
// log.
type logBuffer struct {
	lines   []string
	dropped int
}

func (l *logBuffer) add(line string) {
	if len(l.lines) >= maxLogLines {
		l.dropped++
		return
	}
	l.lines = append(l.lines, line)
}

func (l *logBuffer) drain(w io.Writer) error {
	var err error
	for _, line := range l.lines {
		if _, werr := io.WriteString(w, line+"\n"); werr != nil && err == nil {
			err = werr
		}
	}
	if l.dropped > 0 {
		if _, werr := fmt.Fprintf(w, "wasi-nn: %d more failed calls were not logged\n", l.dropped); werr != nil && err == nil {
			err = werr
		}
	}
	l.lines, l.dropped = l.lines[:0], 0
	return err
}
