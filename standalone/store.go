package standalone

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
)

// Store keeps actions and activation records (docs/standalone.md, "Storage", explains the layout
// and its measurements):
//
//	<data>/                 0700
//	  wasmwhisk.db          0600  bbolt: action metadata, records, indexes
//	  code/<sha256>         0600  action code, content-addressed (codestore.go)
//	  pending.log           0600  accepted activations without a record yet (journal.go)
//
// Activation writes from concurrent invocations are group-committed: one bbolt transaction (one
// fsync) carries every record that arrived while the previous commit ran. Records expire by age
// and count (Retention).
type Store struct {
	dir       string
	db        *bolt.DB
	code      *codeStore
	journal   *journal
	log       *slog.Logger
	retention Retention

	// writeMu serialises action writes and the loading of actions into the cache, so that the
	// cache and the code reference counts always match the committed state.
	writeMu sync.Mutex
	refs    map[string]int // code digest -> number of actions using it

	// actions caches decoded actions with their code by namespace/name: an invoke must not read
	// and decode megabytes of code on every call. Entries are replaced, never modified, so
	// callers may keep the pointers they get.
	actionsMu sync.RWMutex
	actions   map[string]*Action

	records atomic.Int64 // number of stored records

	writes chan *pendingWrite
	kick   chan struct{} // asks the expiry loop to run now
	done   chan struct{}
	loops  errgroup.Group
}

// Retention bounds the activation records kept; the oldest go first. Zero fields take the
// defaults, negative ones disable the bound.
type Retention struct {
	// MaxAge removes records whose activation ended longer ago (default DefaultRecordMaxAge).
	MaxAge time.Duration
	// MaxRecords removes the oldest records beyond this count (default DefaultMaxRecords).
	MaxRecords int
}

// Defaults of Retention. OpenWhisk keeps records until an operator deletes them (its
// tools/db/cleanUpActivations.py --days N; CosmosDB's time-to-live is unset by default), so there
// is no default to copy: a week, and a count that bounds the database to a few hundred megabytes
// (records are about 1.7 KB, more with logs).
const (
	DefaultRecordMaxAge = 7 * 24 * time.Hour
	DefaultMaxRecords   = 100_000
)

// StoreOptions configures OpenStore; the zero value is the default.
type StoreOptions struct {
	// NoSync skips fsync: data survive a crash of this process but not of the machine.
	NoSync bool
	// Retention bounds the records kept.
	Retention Retention
	// Logger receives recovery, expiry and compaction reports (default slog.Default()).
	Logger *slog.Logger

	compactMinBytes int64 // default compactMinBytes; tests lower it
}

var (
	bucketActions   = []byte("actions")              // ns/name -> storedAction JSON
	bucketRecords   = []byte("records")              // seq (8 bytes BE) -> record JSON, in write order
	bucketRecordIDs = []byte("record_ids")           // activation id -> seq
	bucketActIndex  = []byte("activations_by_start") // ns \0 start (8 bytes BE) id -> path
	// bucketLegacyRecords is the layout before records were kept in write order (id -> record).
	bucketLegacyRecords = []byte("activations")
)

const (
	dbFile      = "wasmwhisk.db"
	journalFile = "pending.log"
	codeDir     = "code"
	// expireBatch bounds one expiry transaction, so that record commits interleave with it.
	expireBatch = 1000
	// expireEvery is how often records are checked against the retention; the count bound is
	// also checked when it is exceeded by expireBatch.
	expireEvery = time.Minute
	// A database file larger than compactMinBytes whose free pages exceed compactFreeRatio of
	// it is compacted at open.
	compactMinBytes  = 32 << 20
	compactFreeRatio = 0.5
)

// ErrNotFound is returned for an action or activation that does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned by PutAction when the action exists and overwrite is false.
var ErrExists = errors.New("resource already exists")

type pendingWrite struct {
	rec  *Activation
	path string
	done chan error
}

// storedAction is an action as bbolt keeps it: without its code, which is in the code store.
type storedAction struct {
	Action
	CodeSHA256 string `json:"codeSha256,omitempty"`
}

// OpenStore opens (creating if needed) the store in dir. Before it returns, activations that a
// previous run accepted and did not finish get their final record, expired records are removed
// and a mostly free database file is compacted.
func OpenStore(dir string, opts StoreOptions) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Retention.MaxAge == 0 {
		opts.Retention.MaxAge = DefaultRecordMaxAge
	}
	if opts.Retention.MaxRecords == 0 {
		opts.Retention.MaxRecords = DefaultMaxRecords
	}
	if opts.compactMinBytes == 0 {
		opts.compactMinBytes = compactMinBytes
	}
	if err := privateDir(dir); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	if err := privateDir(filepath.Join(dir, codeDir)); err != nil {
		return nil, fmt.Errorf("store: code dir: %w", err)
	}
	// The last write of the previous run is the latest moment it is known to have been alive:
	// the end of the activations it left unfinished.
	lastAlive := modTime(filepath.Join(dir, dbFile))
	pending, journalTime, err := readJournal(filepath.Join(dir, journalFile))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if journalTime.After(lastAlive) {
		lastAlive = journalTime
	}
	s := &Store{
		dir: dir, code: &codeStore{dir: filepath.Join(dir, codeDir), noSync: opts.NoSync}, log: opts.Logger,
		retention: opts.Retention, refs: map[string]int{}, actions: map[string]*Action{},
		writes: make(chan *pendingWrite, 1024), kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if err := s.openDB(opts.NoSync); err != nil {
		return nil, err
	}
	if err := s.prepare(pending, lastAlive); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.maybeCompact(opts.NoSync, opts.compactMinBytes); err != nil {
		s.db.Close()
		return nil, err
	}
	s.journal, err = openJournal(filepath.Join(dir, journalFile), opts.NoSync)
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s.loops.Go(func() error { s.commitLoop(); return nil })
	s.loops.Go(func() error { s.expireLoop(); return nil })
	return s, nil
}

// privateDir creates dir with mode 0700, or takes group and other access away from an existing
// one: it holds every action's code and every record.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, st.Mode().Perm()&0o700)
	}
	return nil
}

func modTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func (s *Store) openDB(noSync bool) error {
	path := filepath.Join(s.dir, dbFile)
	os.Remove(path + compactSuffix) // left by a compaction that did not finish
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: noSync})
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return fmt.Errorf("store: %w", err)
	}
	s.db = db
	return nil
}

// prepare brings the database to the current layout and state before serving: buckets, migration
// of older layouts, code references, recovery of unfinished activations, expiry.
func (s *Store) prepare(pending []pendingActivation, lastAlive time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketActions, bucketRecords, bucketRecordIDs, bucketActIndex} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: create buckets: %w", err)
	}
	if err := s.migrateRecords(); err != nil {
		return fmt.Errorf("store: migrate records: %w", err)
	}
	if err := s.migrateCode(); err != nil {
		return fmt.Errorf("store: move action code to files: %w", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		s.records.Store(int64(tx.Bucket(bucketRecordIDs).Stats().KeyN))
		return tx.Bucket(bucketActions).ForEach(func(_, v []byte) error {
			var sa storedAction
			if err := json.Unmarshal(v, &sa); err != nil {
				return err
			}
			if sa.CodeSHA256 != "" {
				s.refs[sa.CodeSHA256]++
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: read actions: %w", err)
	}
	if n, err := s.code.sweep(s.refs); err != nil {
		s.log.Warn("store: sweep unreferenced code", "err", err)
	} else if n > 0 {
		s.log.Info("store: removed unreferenced code files", "files", n)
	}
	if err := s.recover(pending, lastAlive); err != nil {
		return err
	}
	if n, err := s.expire(time.Now()); err != nil {
		return fmt.Errorf("store: expire records: %w", err)
	} else if n > 0 {
		s.log.Info("store: expired activation records", "records", n)
	}
	return nil
}

// recover gives every activation that a previous run accepted and did not finish its final
// record; end is the previous run's last sign of life.
func (s *Store) recover(pending []pendingActivation, lastAlive time.Time) error {
	if len(pending) == 0 {
		return nil
	}
	var batch []*pendingWrite
	err := s.db.View(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketRecordIDs)
		for _, p := range pending {
			if ids.Get([]byte(p.rec.ActivationID)) != nil {
				continue // finished; only its done line was lost
			}
			batch = append(batch, &pendingWrite{rec: lostRecord(p.rec, lastAlive), path: p.path})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: recover: %w", err)
	}
	for len(batch) > 0 {
		n := min(len(batch), 512)
		if err := s.db.Update(func(tx *bolt.Tx) error { return s.putRecords(tx, batch[:n]) }); err != nil {
			return fmt.Errorf("store: recover: %w", err)
		}
		s.log.Warn("store: activations of the previous run that did not finish recorded as lost", "activations", n)
		batch = batch[n:]
	}
	return nil
}

// Close flushes pending writes and closes the database.
func (s *Store) Close() error {
	close(s.done)
	_ = s.loops.Wait()
	jerr := s.journal.close()
	return errors.Join(s.db.Close(), jerr)
}

func actionKey(namespace, name string) []byte { return []byte(namespace + "/" + name) }

// GetAction returns the action name in namespace, with its code. The result is shared: callers
// must not modify it.
func (s *Store) GetAction(namespace, name string) (*Action, error) {
	key := string(actionKey(namespace, name))
	if a := s.cached(key); a != nil {
		return a, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	a, _, codeErr, err := s.loadLocked(key)
	if err == nil {
		err = codeErr
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Store) cached(key string) *Action {
	s.actionsMu.RLock()
	defer s.actionsMu.RUnlock()
	return s.actions[key]
}

// loadLocked returns the stored action key with its code and the code's digest, from the cache
// or the store (then caching it). When the code cannot be read (codeErr: a damaged or missing
// file), the action comes without it and is not cached. The caller holds writeMu.
func (s *Store) loadLocked(key string) (a *Action, digest string, codeErr, err error) {
	var sa storedAction
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketActions).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &sa)
	})
	if err != nil {
		return nil, "", nil, err
	}
	if a := s.cached(key); a != nil {
		return a, sa.CodeSHA256, nil, nil
	}
	if sa.CodeSHA256 != "" {
		code, err := s.code.get(sa.CodeSHA256)
		if err != nil {
			return &sa.Action, sa.CodeSHA256, fmt.Errorf("store: action %s: %w", key, err), nil
		}
		sa.Exec.Code = &code
	}
	s.cacheAction(key, &sa.Action)
	return &sa.Action, sa.CodeSHA256, nil, nil
}

// cacheAction records the stored state of an action (nil: deleted).
func (s *Store) cacheAction(key string, a *Action) {
	s.actionsMu.Lock()
	defer s.actionsMu.Unlock()
	if a == nil {
		delete(s.actions, key)
		return
	}
	s.actions[key] = a
}

// UpdateAction atomically reads the action (nil when absent), lets update build the new one and
// stores it. update returns ErrExists or any other error to abort. update gets its own copy of the
// old action's slices, but the code string is shared.
func (s *Store) UpdateAction(namespace, name string, update func(old *Action) (*Action, error)) (*Action, error) {
	key := string(actionKey(namespace, name))
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	old, oldDigest, codeErr, err := s.loadLocked(key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if codeErr != nil {
		// Still let the action be replaced: that is how a user repairs it.
		s.log.Warn("store: updating an action whose code cannot be read", "err", codeErr)
	}
	var arg *Action
	if old != nil {
		c := *old
		c.Parameters, c.Annotations = slices.Clone(old.Parameters), slices.Clone(old.Annotations)
		arg = &c
	}
	a, err := update(arg)
	if err != nil {
		return nil, err
	}
	digest := ""
	switch {
	case a.Exec.Code != nil && old != nil && old.Exec.Code != nil && *old.Exec.Code == *a.Exec.Code:
		digest = oldDigest
	case a.Exec.Code != nil:
		if digest, err = s.code.put(*a.Exec.Code); err != nil {
			return nil, fmt.Errorf("store: action %s: %w", key, err)
		}
	case codeErr != nil && reflect.DeepEqual(a.Exec, old.Exec):
		digest = oldDigest // the exec was kept, unreadable code and all
	}
	sa := storedAction{Action: *a, CodeSHA256: digest}
	sa.Exec.Code = nil
	data, err := json.Marshal(&sa)
	if err != nil {
		s.dropCode(digest)
		return nil, fmt.Errorf("store: encode action %s: %w", key, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketActions).Put([]byte(key), data) })
	if err != nil {
		s.dropCode(digest)
		return nil, fmt.Errorf("store: write action %s: %w", key, err)
	}
	if digest != "" {
		s.refs[digest]++
	}
	s.release(oldDigest)
	// The committed action is what the next invoke needs: keep it with its code.
	if a.Exec.Code == nil && digest != "" {
		s.cacheAction(key, nil)
	} else {
		s.cacheAction(key, a)
	}
	return a, nil
}

// dropCode removes code written for a write that failed, unless another action uses it.
func (s *Store) dropCode(digest string) {
	if digest != "" && s.refs[digest] == 0 {
		if err := s.code.remove(digest); err != nil {
			s.log.Warn("store: remove code", "err", err)
		}
	}
}

// release drops one reference to digest and removes the code when it was the last. The caller
// holds writeMu.
func (s *Store) release(digest string) {
	if digest == "" {
		return
	}
	s.refs[digest]--
	if s.refs[digest] > 0 {
		return
	}
	delete(s.refs, digest)
	if err := s.code.remove(digest); err != nil {
		s.log.Warn("store: remove code; it is swept at the next start", "err", err)
	}
}

// DeleteAction removes and returns the action (without its code if that cannot be read).
func (s *Store) DeleteAction(namespace, name string) (*Action, error) {
	key := string(actionKey(namespace, name))
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	a, digest, codeErr, err := s.loadLocked(key)
	if err != nil {
		return nil, err
	}
	if codeErr != nil {
		s.log.Warn("store: deleting an action whose code cannot be read", "err", codeErr)
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketActions).Delete([]byte(key)) })
	if err != nil {
		return nil, fmt.Errorf("store: delete action %s: %w", key, err)
	}
	s.cacheAction(key, nil)
	s.release(digest)
	return a, nil
}

// ListActions returns the namespace's actions, most recently updated first, without their code
// (Exec.Code is nil).
func (s *Store) ListActions(namespace string) ([]*Action, error) {
	var out []*Action
	prefix := []byte(namespace + "/")
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActions).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var sa storedAction
			if err := json.Unmarshal(v, &sa); err != nil {
				return err
			}
			out = append(out, &sa.Action)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Updated > out[j].Updated })
	return out, err
}

func indexKey(namespace string, start int64, id string) []byte {
	k := make([]byte, 0, len(namespace)+1+8+len(id))
	k = append(k, namespace...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(start))
	return append(k, id...)
}

// Accept makes an accepted activation durable before it runs: rec is its pending record
// (pendingRecord), path its action's name within the namespace. Until PutActivation stores the
// final record the activation is not visible (GET answers 404, as in OpenWhisk); if this process
// dies first, the next OpenStore records it as lost. Accept survives the death of this process;
// with sync it also survives that of the machine (unless NoSync), which matters once the client
// knows the id: give sync for a non-blocking invoke, and call SyncAccepted before a blocking one
// answers 202.
func (s *Store) Accept(rec *Activation, path string, sync bool) error {
	return s.journal.accept(rec, path, sync)
}

// SyncAccepted returns once every activation accepted so far is on disk (see Accept).
func (s *Store) SyncAccepted() error {
	return s.journal.sync()
}

// PutActivation stores rec durably (group-committed) and returns once it is committed. path is
// the action's name within the namespace ("name" or "pkg/name") for list filtering.
func (s *Store) PutActivation(rec *Activation, path string) error {
	w := &pendingWrite{rec: rec, path: path, done: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-s.done:
		return errors.New("store: closed")
	}
	return <-w.done
}

func (s *Store) commitLoop() {
	for {
		var batch []*pendingWrite
		select {
		case w := <-s.writes:
			batch = append(batch, w)
		case <-s.done:
			// Drain what was queued before Close.
			for {
				select {
				case w := <-s.writes:
					s.commit([]*pendingWrite{w})
				default:
					return
				}
			}
		}
	more:
		for len(batch) < 512 {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break more
			}
		}
		s.commit(batch)
	}
}

func (s *Store) commit(batch []*pendingWrite) {
	err := s.db.Update(func(tx *bolt.Tx) error { return s.putRecords(tx, batch) })
	if err != nil {
		err = fmt.Errorf("store: write activations: %w", err)
	} else {
		ids := make([]string, len(batch))
		for i, w := range batch {
			ids[i] = w.rec.ActivationID
		}
		if jerr := s.journal.done(ids); jerr != nil {
			s.log.Warn("store: journal", "err", jerr)
		}
		if max := s.retention.MaxRecords; max > 0 && s.records.Load() > int64(max+expireBatch) {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
	for _, w := range batch {
		w.done <- err
	}
}

// putRecords writes records in tx: a new one at the end of the write order, a rewritten one in
// place.
func (s *Store) putRecords(tx *bolt.Tx, batch []*pendingWrite) error {
	recs, ids, idx := tx.Bucket(bucketRecords), tx.Bucket(bucketRecordIDs), tx.Bucket(bucketActIndex)
	recs.FillPercent = 1 // appends only: full pages
	added := 0
	for _, w := range batch {
		data, err := json.Marshal(w.rec)
		if err != nil {
			return fmt.Errorf("encode activation %s: %w", w.rec.ActivationID, err)
		}
		id := []byte(w.rec.ActivationID)
		var seqKey []byte
		if old := ids.Get(id); old != nil {
			seqKey = slices.Clone(old)
			var prev recordHead
			if json.Unmarshal(recs.Get(seqKey), &prev) == nil {
				if err := idx.Delete(indexKey(prev.Namespace, prev.Start, prev.ActivationID)); err != nil {
					return err
				}
			}
		} else {
			seq, err := recs.NextSequence()
			if err != nil {
				return err
			}
			seqKey = binary.BigEndian.AppendUint64(nil, seq)
			if err := ids.Put(id, seqKey); err != nil {
				return err
			}
			added++
		}
		if err := recs.Put(seqKey, data); err != nil {
			return err
		}
		if err := idx.Put(indexKey(w.rec.Namespace, w.rec.Start, w.rec.ActivationID), []byte(w.path)); err != nil {
			return err
		}
	}
	tx.OnCommit(func() { s.records.Add(int64(added)) })
	return nil
}

// recordHead is the part of a stored record that indexes and expiry need.
type recordHead struct {
	Namespace    string `json:"namespace"`
	ActivationID string `json:"activationId"`
	Start        int64  `json:"start"`
	End          int64  `json:"end"`
}

// GetActivation returns the record id if it belongs to namespace.
func (s *Store) GetActivation(namespace, id string) (*Activation, error) {
	var a Activation
	err := s.db.View(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketRecordIDs).Get([]byte(id))
		if seq == nil {
			return ErrNotFound
		}
		v := tx.Bucket(bucketRecords).Get(seq)
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &a)
	})
	if err != nil {
		return nil, err
	}
	if a.Namespace != namespace {
		return nil, ErrNotFound
	}
	return &a, nil
}

// ActivationQuery selects records for ListActivations.
type ActivationQuery struct {
	Namespace string
	// Name is "" (all), "action" or "pkg/action".
	Name string
	// Since and Upto are inclusive bounds on start in epoch ms; 0 means unbounded.
	Since, Upto int64
	Skip, Limit int
	// CountOnly counts matches, ignoring Skip and Limit.
	CountOnly bool
}

// ListActivations returns matching records newest first, and the number of matches when
// q.CountOnly.
func (s *Store) ListActivations(q ActivationQuery) ([]*Activation, int, error) {
	var out []*Activation
	count := 0
	prefix := append([]byte(q.Namespace), 0)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActIndex).Cursor()
		recs, ids := tx.Bucket(bucketRecords), tx.Bucket(bucketRecordIDs)
		upto := q.Upto
		if upto <= 0 {
			upto = 1<<63 - 1
		}
		// Position after the last key with start <= upto, then walk backwards.
		seek := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(upto)+1)
		k, _ := c.Seek(seek)
		var v []byte
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		skipped := 0
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			start := int64(binary.BigEndian.Uint64(k[len(prefix):]))
			if start > upto {
				continue
			}
			if q.Since > 0 && start < q.Since {
				break
			}
			if q.Name != "" && !nameMatches(string(v), q.Name) {
				continue
			}
			if q.CountOnly {
				count++
				continue
			}
			if skipped < q.Skip {
				skipped++
				continue
			}
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
			seq := ids.Get(k[len(prefix)+8:])
			if seq == nil {
				continue
			}
			data := recs.Get(seq)
			if data == nil {
				continue
			}
			var a Activation
			if err := json.Unmarshal(data, &a); err != nil {
				return err
			}
			out = append(out, &a)
		}
		return nil
	})
	return out, count, err
}

// nameMatches compares an activation's path within its namespace with the name filter: "action"
// matches only the unpackaged action, "pkg/action" the packaged one, as in OpenWhisk.
func nameMatches(path, name string) bool {
	return path == strings.Trim(name, "/")
}

// expireLoop applies the retention every expireEvery, and when the commit loop finds the count
// bound exceeded.
func (s *Store) expireLoop() {
	if s.retention.MaxAge < 0 && s.retention.MaxRecords < 0 {
		return
	}
	tick := time.NewTicker(expireEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
		case <-s.kick:
		}
		if n, err := s.expire(time.Now()); err != nil {
			s.log.Error("store: expire records", "err", err)
		} else if n > 0 {
			s.log.Debug("store: expired activation records", "records", n)
		}
	}
}

// expire removes the records beyond the retention, oldest written first, in transactions of at
// most expireBatch records, and returns how many it removed.
func (s *Store) expire(now time.Time) (int, error) {
	cutoff := int64(-1 << 63)
	if s.retention.MaxAge > 0 {
		cutoff = now.Add(-s.retention.MaxAge).UnixMilli()
	}
	total := 0
	for {
		select {
		case <-s.done:
			return total, nil
		default:
		}
		n, err := s.expireOnce(cutoff)
		total += n
		if err != nil || n < expireBatch {
			return total, err
		}
	}
}

func (s *Store) expireOnce(cutoff int64) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs, ids, idx := tx.Bucket(bucketRecords), tx.Bucket(bucketRecordIDs), tx.Bucket(bucketActIndex)
		count := s.records.Load()
		var doomed [][]byte
		var heads []recordHead
		c := recs.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < expireBatch; k, v = c.Next() {
			over := s.retention.MaxRecords > 0 && count-int64(len(doomed)) > int64(s.retention.MaxRecords)
			var h recordHead
			if json.Unmarshal(v, &h) != nil {
				if !over {
					continue // undecodable: removed only to keep the count bound
				}
			} else if ended := max(h.End, h.Start); !over && ended >= cutoff {
				break
			}
			doomed = append(doomed, slices.Clone(k))
			heads = append(heads, h)
		}
		for i, k := range doomed {
			if err := recs.Delete(k); err != nil {
				return err
			}
			h := heads[i]
			if h.ActivationID == "" {
				continue
			}
			if seq := ids.Get([]byte(h.ActivationID)); bytes.Equal(seq, k) {
				if err := ids.Delete([]byte(h.ActivationID)); err != nil {
					return err
				}
			}
			if err := idx.Delete(indexKey(h.Namespace, h.Start, h.ActivationID)); err != nil {
				return err
			}
		}
		n = len(doomed)
		tx.OnCommit(func() { s.records.Add(-int64(n)) })
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

const compactSuffix = ".compact"

// maybeCompact rewrites a database file that is mostly free pages (after expiry removed much,
// or a lowered retention): bbolt reuses free pages but never returns them to the file system.
func (s *Store) maybeCompact(noSync bool, minBytes int64) error {
	path := filepath.Join(s.dir, dbFile)
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	stats := s.db.Stats()
	pageSize := int64(s.db.Info().PageSize)
	free := int64(stats.FreePageN+stats.PendingPageN) * pageSize
	if st.Size() < minBytes || float64(free) < compactFreeRatio*float64(st.Size()) {
		return nil
	}
	began := time.Now()
	tmp := path + compactSuffix
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	err = bolt.Compact(dst, s.db, 16<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && !noSync {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil && !noSync {
		err = syncDir(s.dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: compact: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	if err := s.openDB(noSync); err != nil {
		return err
	}
	s.log.Info("store: compacted the database", "bytes_before", st.Size(), "bytes_after", modSize(path), "took", time.Since(began).Round(time.Millisecond))
	return nil
}

func modSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// migrateRecords moves records of the layout keyed by id into the write-ordered one, oldest
// first, in bounded transactions; an interrupted migration resumes at the next open.
func (s *Store) migrateRecords() error {
	var legacy bool
	if err := s.db.View(func(tx *bolt.Tx) error { legacy = tx.Bucket(bucketLegacyRecords) != nil; return nil }); err != nil || !legacy {
		return err
	}
	type ref struct {
		start int64
		id    []byte
	}
	var refs []ref
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLegacyRecords).ForEach(func(k, v []byte) error {
			var h recordHead
			_ = json.Unmarshal(v, &h)
			refs = append(refs, ref{h.Start, slices.Clone(k)})
			return nil
		})
	})
	if err != nil {
		return err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].start < refs[j].start })
	for len(refs) > 0 {
		n := min(len(refs), 2000)
		err := s.db.Update(func(tx *bolt.Tx) error {
			old, recs, ids := tx.Bucket(bucketLegacyRecords), tx.Bucket(bucketRecords), tx.Bucket(bucketRecordIDs)
			recs.FillPercent = 1
			for _, r := range refs[:n] {
				v := old.Get(r.id)
				if v != nil && ids.Get(r.id) == nil {
					seq, err := recs.NextSequence()
					if err != nil {
						return err
					}
					key := binary.BigEndian.AppendUint64(nil, seq)
					if err := recs.Put(key, slices.Clone(v)); err != nil {
						return err
					}
					if err := ids.Put(r.id, key); err != nil {
						return err
					}
				}
				if err := old.Delete(r.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		refs = refs[n:]
	}
	s.log.Info("store: moved activation records to the write-ordered layout")
	return s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketLegacyRecords) })
}

// migrateCode moves code stored inside action values (the layout before the code store) into
// code files, one action per transaction.
func (s *Store) migrateCode() error {
	var keys [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketActions).ForEach(func(k, v []byte) error {
			// Cheap test before decoding: code lives under "exec"."code".
			if bytes.Contains(v, []byte(`"code":`)) {
				keys = append(keys, slices.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	moved := 0
	for _, k := range keys {
		var sa storedAction
		err := s.db.View(func(tx *bolt.Tx) error { return json.Unmarshal(tx.Bucket(bucketActions).Get(k), &sa) })
		if err != nil {
			return fmt.Errorf("action %s: %w", k, err)
		}
		if sa.Exec.Code == nil {
			continue
		}
		digest, err := s.code.put(*sa.Exec.Code)
		if err != nil {
			return err
		}
		sa.Exec.Code, sa.CodeSHA256 = nil, digest
		data, err := json.Marshal(&sa)
		if err != nil {
			return err
		}
		if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketActions).Put(k, data) }); err != nil {
			return err
		}
		moved++
	}
	if moved > 0 {
		s.log.Info("store: moved action code out of the database into code files", "actions", moved)
	}
	return nil
}

// storeStats are figures of the store for tests and benchmarks.
type storeStats struct {
	dbBytes   int64
	codeFiles int
	records   int64
}

func (s *Store) stats() storeStats {
	st := storeStats{dbBytes: modSize(filepath.Join(s.dir, dbFile)), records: s.records.Load()}
	entries, _ := os.ReadDir(s.code.dir)
	for _, e := range entries {
		if validDigest(e.Name()) {
			st.codeFiles++
		}
	}
	return st
}
