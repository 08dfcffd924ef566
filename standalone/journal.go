package standalone

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// journal is the append-only log of accepted activations that have no record yet. The API
// appends an activation's pending record before it answers 202 or starts a blocking wait; the
// store appends a done line once the final record is committed. A process killed at any moment
// leaves every accepted activation either with a record in the database or pending here, and the
// next start gives the pending ones their final record (Store.recover).
//
// An append is one write(2) of a JSON line, which survives the death of this process; unless the
// store is opened with noSync, an activation whose id the client learns at once (non-blocking)
// also waits for fdatasync (group-committed: one sync covers every line written before it). A
// blocking one needs it only if the wait ends in a 202: otherwise the client learns the id with
// the record, committed by then. Records are not kept in bbolt for this because
// a bbolt commit costs two syncs and a page write, which would double the store work of every
// activation. The file is rewritten with only the activations still in flight when it passes
// journalRotateBytes.
type journal struct {
	path   string
	noSync bool

	// syncMu serialises syncs and rotations (lock order: syncMu, then mu).
	syncMu sync.Mutex
	synced atomic.Uint64 // lines known durable

	mu       sync.Mutex
	f        *os.File
	size     int64
	written  uint64            // lines appended (accepts and dones) since open
	inflight map[string][]byte // id -> its pending line, for rotation
}

// journalRotateBytes bounds the journal: past it, the file is rewritten with the lines of the
// activations still in flight.
const journalRotateBytes = 4 << 20

// journalLine is one line: a pending activation (Rec and Path) or the end of one (Done).
type journalLine struct {
	Rec  *Activation `json:"rec,omitempty"`
	Path string      `json:"path,omitempty"`
	Done []string    `json:"done,omitempty"`
}

// pendingActivation is an activation accepted by a previous run and not finished.
type pendingActivation struct {
	rec  *Activation
	path string
}

// readJournal returns the activations that path's journal holds as pending and the time of the
// journal's last write (zero when there is no journal). A torn last line, possible after a
// machine crash, is skipped.
func readJournal(path string) ([]pendingActivation, time.Time, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("journal: %w", err)
	}
	pending := map[string]pendingActivation{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l journalLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Rec != nil && hexIDRE.MatchString(l.Rec.ActivationID) {
			if _, seen := pending[l.Rec.ActivationID]; !seen {
				order = append(order, l.Rec.ActivationID)
			}
			pending[l.Rec.ActivationID] = pendingActivation{rec: l.Rec, path: l.Path}
		}
		for _, id := range l.Done {
			delete(pending, id)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return nil, time.Time{}, fmt.Errorf("journal: read %s: %w", path, err)
	}
	out := make([]pendingActivation, 0, len(pending))
	for _, id := range order {
		if p, ok := pending[id]; ok {
			out = append(out, p)
		}
	}
	return out, st.ModTime(), nil
}

// openJournal starts an empty journal at path, replacing any previous one (which the caller has
// read and recovered).
func openJournal(path string, noSync bool) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{path: path, noSync: noSync, f: f, inflight: map[string][]byte{}}, nil
}

// accept appends rec as pending and returns once it is written, and with sync (and not noSync)
// once it is on disk.
func (j *journal) accept(rec *Activation, path string, sync bool) error {
	line, err := json.Marshal(journalLine{Rec: rec, Path: path})
	if err != nil {
		return fmt.Errorf("journal: encode %s: %w", rec.ActivationID, err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	if j.f == nil {
		j.mu.Unlock()
		return errors.New("journal: closed")
	}
	if _, err := j.f.Write(line); err != nil {
		j.mu.Unlock()
		return fmt.Errorf("journal: append: %w", err)
	}
	j.size += int64(len(line))
	j.written++
	mine := j.written
	j.inflight[rec.ActivationID] = line
	rotate := j.size > journalRotateBytes
	j.mu.Unlock()
	if rotate {
		if err := j.rotate(); err != nil {
			return err
		}
	}
	if j.noSync || !sync {
		return nil
	}
	return j.syncTo(mine)
}

// sync returns once every line written so far is on disk.
func (j *journal) sync() error {
	if j.noSync {
		return nil
	}
	j.mu.Lock()
	n := j.written
	j.mu.Unlock()
	return j.syncTo(n)
}

// done appends the end of ids, whose records are committed. It does not sync: a done line lost
// in a machine crash only makes the next start look the record up, and find it.
func (j *journal) done(ids []string) error {
	line, err := json.Marshal(journalLine{Done: ids})
	if err != nil {
		return err
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, id := range ids {
		delete(j.inflight, id)
	}
	if j.f == nil {
		return errors.New("journal: closed")
	}
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("journal: append: %w", err)
	}
	j.size += int64(len(line))
	j.written++
	return nil
}

// syncTo returns once line n is durable. Callers that arrive while a sync runs share the next.
func (j *journal) syncTo(n uint64) error {
	if j.synced.Load() >= n {
		return nil
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced.Load() >= n {
		return nil
	}
	j.mu.Lock()
	f, target := j.f, j.written
	j.mu.Unlock()
	if f == nil {
		return errors.New("journal: closed")
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("journal: sync: %w", err)
	}
	j.synced.Store(target)
	return nil
}

// rotate rewrites the journal with the activations still in flight.
func (j *journal) rotate() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil || j.size <= journalRotateBytes {
		return nil
	}
	var buf bytes.Buffer
	for _, line := range j.inflight {
		buf.Write(line)
	}
	tmp := j.path + ".rotate"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: rotate: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil && !j.noSync {
		err = fdatasync(f)
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err == nil && !j.noSync {
		err = syncDir(filepath.Dir(j.path))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("journal: rotate: %w", err)
	}
	j.f.Close()
	j.f, j.size = f, int64(buf.Len())
	// Every line still needed is in the new file, synced above.
	j.synced.Store(j.written)
	return nil
}

// close closes the journal; with nothing in flight (a clean shutdown) it removes the file.
func (j *journal) close() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	if len(j.inflight) == 0 {
		if rerr := os.Remove(j.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}

// fdatasync flushes f's data (and the size it needs to be read back), not its times.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	return serr
}
