package loadgen

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// LineProgress reports progress on w: a redrawn bar when w is a terminal,
// otherwise a line at the start, every tenth of the phase and the end (so
// logs and CI output stay readable).
type LineProgress struct {
	w   io.Writer
	tty bool

	mu        sync.Mutex
	phase     string
	total     int
	done      int
	problems  int
	latency   float64 // sum of client latencies of activations
	measured  int
	lastDraw  time.Time
	lastDecil int
}

// NewLineProgress reports to w; tty selects the redrawn bar.
func NewLineProgress(w io.Writer, tty bool) *LineProgress {
	return &LineProgress{w: w, tty: tty}
}

// Begin starts a phase of total steps.
func (p *LineProgress) Begin(phase string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase, p.total, p.done, p.problems, p.latency, p.measured, p.lastDecil = phase, total, 0, 0, 0, 0, 0
	if p.tty {
		p.draw()
		return
	}
	fmt.Fprintf(p.w, "%s: %d to go\n", phase, total)
}

// Step counts one finished invocation (or copy, or dropped send).
func (p *LineProgress) Step(row Row) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if row.ActivationID != "" || row.Concurrency > 0 {
		if row.Status != StatusSuccess {
			p.problems++
		}
		if row.HasRecord() {
			p.latency += row.ClientLatency
			p.measured++
		}
	} else if row.Status != StatusSuccess {
		p.problems++ // dropped send
	}
	if p.tty {
		if time.Since(p.lastDraw) > 100*time.Millisecond || p.done == p.total {
			p.draw()
		}
		return
	}
	if p.total >= 10 {
		if d := p.done * 10 / p.total; d > p.lastDecil && p.done < p.total {
			p.lastDecil = d
			fmt.Fprintf(p.w, "%s: %d/%d\n", p.phase, p.done, p.total)
		}
	}
}

// End closes the phase with a one-line result.
func (p *LineProgress) End() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintf(p.w, "%s: done %d/%d%s\n", p.phase, p.done, p.total, p.tail())
}

func (p *LineProgress) tail() string {
	var b strings.Builder
	if p.measured > 0 {
		fmt.Fprintf(&b, ", mean client latency %.1f ms", p.latency/float64(p.measured))
	}
	if p.problems > 0 {
		fmt.Fprintf(&b, ", %d not successful", p.problems)
	}
	return b.String()
}

func (p *LineProgress) draw() {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = min(width, p.done*width/p.total)
	}
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	fmt.Fprintf(p.w, "\r\x1b[K%s [%s] %d/%d%s", p.phase, bar, p.done, p.total, p.tail())
	p.lastDraw = time.Now()
}
