package native

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// logPipe carries one of the child's output streams to a writer that is not a file (the wasm
// host backend's log buffer, a test's buffer). os/exec would copy such a writer's data on a
// goroutine of its own, so the child's last lines could arrive after the proxy's sentinels and be
// counted in the next activation. A logPipe instead lets Run drain what the child wrote before it
// answered (flush), under the same lock as the background copy, so that every byte written before
// the result is in the writer when Run returns.
type logPipe struct {
	r    *os.File // read end; os.Pipe makes it non-blocking and pollable
	rc   syscall.RawConn
	dst  io.Writer
	done chan struct{} // closed when pump has returned

	mu      sync.Mutex // held while bytes move from the pipe to dst
	buf     []byte
	partial bool // the last byte written to dst was not a newline
	eof     bool
}

// newLogPipe returns a pipe to dst and the write end to give the child (the caller closes its
// copy once the child has started). Start pump on a goroutine.
func newLogPipe(dst io.Writer) (*logPipe, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	rc, err := r.SyscallConn()
	if err != nil {
		r.Close()
		w.Close()
		return nil, nil, err
	}
	return &logPipe{r: r, rc: rc, dst: dst, done: make(chan struct{}), buf: make([]byte, 64<<10)}, w, nil
}

// pump copies until the write end is closed everywhere (or the read end is closed by close).
func (p *logPipe) pump() {
	defer close(p.done)
	for {
		err := p.rc.Read(func(fd uintptr) bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return !p.drainLocked(int(fd)) // false: wait until readable, then call again
		})
		p.mu.Lock()
		eof := p.eof
		p.mu.Unlock()
		if err != nil || eof {
			return
		}
	}
}

// drainLocked reads until the pipe is empty (it reports true: wait for more) or at its end.
func (p *logPipe) drainLocked(fd int) (wouldBlock bool) {
	for !p.eof {
		n, err := syscall.Read(fd, p.buf)
		switch {
		case n > 0:
			p.dst.Write(p.buf[:n])
			p.partial = p.buf[n-1] != '\n'
		case err == syscall.EINTR:
		case errors.Is(err, syscall.EAGAIN):
			return true
		default: // 0 bytes: the end; or an error, which ends the stream as well
			p.eof = true
		}
	}
	return false
}

// flush writes to dst everything the child has written so far, then ends a partial last line,
// so that what the proxy writes next (the sentinel) starts a line of its own.
func (p *logPipe) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.eof {
		_ = p.rc.Control(func(fd uintptr) { p.drainLocked(int(fd)) })
	}
	if p.partial {
		p.dst.Write([]byte{'\n'})
		p.partial = false
	}
}

// close waits a while for pump to see the end of the stream (a grandchild that left the
// process group may hold the write end open), then closes the read end, which stops it.
func (p *logPipe) close(wait time.Duration) error {
	select {
	case <-p.done:
	case <-time.After(wait):
	}
	err := p.r.Close()
	<-p.done
	p.flush()
	if err != nil {
		return fmt.Errorf("native: close log pipe: %w", err)
	}
	return nil
}
