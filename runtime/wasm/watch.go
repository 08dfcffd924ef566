package wasm

import (
	"os"
	"sync"
	"time"
)

// Guest output lands in files (memory files on Linux) that the host reads after the guest call.
// A guest printing in a loop until its deadline could fill memory or disk long before that, so
// while guest code runs the engine's ticker trims every registered output file: it keeps the
// bytes the host will read (the first LogLimit bytes of the activation's part, and for a
// command's stdout the last MaxResultBytes, where the result line is) and punches a hole over
// the rest. Memory per stream stays near head + tail + what the guest writes between two checks.

// trimEvery is how often output files are checked while guests run.
const trimEvery = 10 * time.Millisecond

// trimSlack is how far a file may grow past what is kept before it is trimmed.
const trimSlack = 4 << 20

// watchedFile is an output file being trimmed: bytes [from, from+head) and the last tail bytes
// are kept.
type watchedFile struct {
	f                *os.File
	from, head, tail int64
	punched          int64 // bytes up to which the hole already reaches
}

// watchers is the set of output files of the guest calls in progress.
type watchers struct {
	mu    sync.Mutex
	files map[*watchedFile]struct{}
}

// watch registers w until the returned function is called.
func (e *Engine) watch(w *watchedFile) (unwatch func()) {
	e.watched.mu.Lock()
	if e.watched.files == nil {
		e.watched.files = map[*watchedFile]struct{}{}
	}
	e.watched.files[w] = struct{}{}
	e.watched.mu.Unlock()
	return func() {
		e.watched.mu.Lock()
		delete(e.watched.files, w)
		e.watched.mu.Unlock()
	}
}

// trimWatched trims every registered file; the engine's ticker calls it.
func (e *Engine) trimWatched() {
	e.watched.mu.Lock()
	defer e.watched.mu.Unlock()
	for w := range e.watched.files {
		w.trim()
	}
}

// trim punches a hole over what lies between the kept head and tail, once that is large enough
// to matter. Hole edges are page-aligned inwards so kept bytes are never touched.
func (w *watchedFile) trim() {
	fi, err := w.f.Stat()
	if err != nil {
		return
	}
	size := fi.Size()
	if size-w.from <= w.head+w.tail+trimSlack {
		return
	}
	const page = 4096
	start := max((w.from+w.head+page-1)/page*page, w.punched)
	end := (size - w.tail) / page * page
	if end-start < trimSlack {
		return
	}
	punchHole(w.f, start, end-start)
	w.punched = end
}
