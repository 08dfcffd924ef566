package standalone

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store keeps actions and activation records in a bbolt database (docs/standalone.md explains the
// choice). Activation writes from concurrent invocations are group-committed: one bbolt
// transaction (one fsync) carries every record that arrived while the previous commit ran, so
// c=1 pays one commit per record and c=50 amortises it.
type Store struct {
	db *bolt.DB

	// actions caches decoded actions by namespace/name: an invoke must not decode the action's
	// code (megabytes of base64 for a wasm module) on every call. Entries are replaced, never
	// modified, so callers may keep the pointers they get.
	actionsMu sync.RWMutex
	actions   map[string]*Action

	writes chan *pendingWrite
	done   chan struct{}
	wg     sync.WaitGroup
}

var (
	bucketActions     = []byte("actions")
	bucketActivations = []byte("activations")
	bucketActIndex    = []byte("activations_by_start")
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

// OpenStore opens (creating if needed) the database in dir. With noSync the database skips
// fsync: records survive a crash of this process but not of the machine.
func OpenStore(dir string, noSync bool) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "wasmwhisk.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: noSync})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketActions, bucketActivations, bucketActIndex} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: create buckets: %w", err)
	}
	s := &Store{db: db, writes: make(chan *pendingWrite, 1024), done: make(chan struct{})}
	s.wg.Add(1)
	go s.commitLoop()
	return s, nil
}

// Close flushes pending writes and closes the database.
func (s *Store) Close() error {
	close(s.done)
	s.wg.Wait()
	return s.db.Close()
}

func actionKey(namespace, name string) []byte { return []byte(namespace + "/" + name) }

// GetAction returns the action name in namespace. The result is shared: callers must not modify it.
func (s *Store) GetAction(namespace, name string) (*Action, error) {
	key := string(actionKey(namespace, name))
	s.actionsMu.RLock()
	cached := s.actions[key]
	s.actionsMu.RUnlock()
	if cached != nil {
		return cached, nil
	}
	var a Action
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketActions).Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &a)
	})
	if err != nil {
		return nil, err
	}
	s.cacheAction(key, &a)
	return &a, nil
}

// cacheAction records the stored state of an action (nil: deleted).
func (s *Store) cacheAction(key string, a *Action) {
	s.actionsMu.Lock()
	defer s.actionsMu.Unlock()
	if s.actions == nil {
		s.actions = map[string]*Action{}
	}
	if a == nil {
		delete(s.actions, key)
		return
	}
	s.actions[key] = a
}

// UpdateAction atomically reads the action (nil when absent), lets update build the new one and
// stores it. update returns ErrExists or any other error to abort.
func (s *Store) UpdateAction(namespace, name string, update func(old *Action) (*Action, error)) (*Action, error) {
	var out *Action
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActions)
		key := actionKey(namespace, name)
		var old *Action
		if v := b.Get(key); v != nil {
			old = new(Action)
			if err := json.Unmarshal(v, old); err != nil {
				return fmt.Errorf("decode stored action: %w", err)
			}
		}
		a, err := update(old)
		if err != nil {
			return err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return err
		}
		out = a
		return b.Put(key, data)
	})
	// The committed action is what the next invoke needs: keep it decoded (its code is megabytes
	// of base64 for a wasm module). After a failure, drop the entry; the next read decodes.
	if err == nil {
		s.cacheAction(string(actionKey(namespace, name)), out)
	} else {
		s.cacheAction(string(actionKey(namespace, name)), nil)
	}
	return out, err
}

// DeleteAction removes and returns the action.
func (s *Store) DeleteAction(namespace, name string) (*Action, error) {
	var a Action
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActions)
		v := b.Get(actionKey(namespace, name))
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		return b.Delete(actionKey(namespace, name))
	})
	s.cacheAction(string(actionKey(namespace, name)), nil)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// ListActions returns the namespace's actions, most recently updated first.
func (s *Store) ListActions(namespace string) ([]*Action, error) {
	var out []*Action
	prefix := []byte(namespace + "/")
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActions).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var a Action
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, &a)
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
	defer s.wg.Done()
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
	err := s.db.Update(func(tx *bolt.Tx) error {
		recs, idx := tx.Bucket(bucketActivations), tx.Bucket(bucketActIndex)
		for _, w := range batch {
			data, err := json.Marshal(w.rec)
			if err != nil {
				return fmt.Errorf("encode activation %s: %w", w.rec.ActivationID, err)
			}
			if old := recs.Get([]byte(w.rec.ActivationID)); old != nil {
				var prev Activation
				if json.Unmarshal(old, &prev) == nil {
					idx.Delete(indexKey(prev.Namespace, prev.Start, prev.ActivationID))
				}
			}
			if err := recs.Put([]byte(w.rec.ActivationID), data); err != nil {
				return err
			}
			if err := idx.Put(indexKey(w.rec.Namespace, w.rec.Start, w.rec.ActivationID), []byte(w.path)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("store: write activations: %w", err)
	}
	for _, w := range batch {
		w.done <- err
	}
}

// GetActivation returns the record id if it belongs to namespace.
func (s *Store) GetActivation(namespace, id string) (*Activation, error) {
	var a Activation
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketActivations).Get([]byte(id))
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
		recs := tx.Bucket(bucketActivations)
		upto := q.Upto
		if upto <= 0 {
			upto = 1<<63 - 1
		}
		// Position after the last key with start <= upto, then walk backwards.
		seek := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(upto)+1)
		k, v := c.Seek(seek)
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
			data := recs.Get(k[len(prefix)+8:])
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
