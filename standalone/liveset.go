package standalone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// LiveSet is the set of a backend's containers that are not destroyed yet, so that the backend's
// Close can destroy what is left. The zero value is ready to use.
type LiveSet[C interface {
	Container
	comparable
}] struct {
	mu  sync.Mutex
	set map[C]struct{}
}

// Add records a new container.
func (l *LiveSet[C]) Add(c C) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set == nil {
		l.set = map[C]struct{}{}
	}
	l.set[c] = struct{}{}
}

// Remove forgets a destroyed container.
func (l *LiveSet[C]) Remove(c C) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.set, c)
}

// DestroyAll destroys every container still in the set (Destroy removes each from it).
func (l *LiveSet[C]) DestroyAll(ctx context.Context) error {
	l.mu.Lock()
	live := make([]C, 0, len(l.set))
	for c := range l.set {
		live = append(live, c)
	}
	l.mu.Unlock()
	var errs []error
	for _, c := range live {
		errs = append(errs, c.Destroy(ctx))
	}
	return errors.Join(errs...)
}

// Ledger is the persistent counterpart of a LiveSet: a private directory (Instance.StateDir)
// holding one small JSON file per container that a backend has created and not yet destroyed,
// naming what the container holds (processes, cgroups, directories). A container is entered
// before it starts and removed after it is destroyed, so after a crash the ledger lists everything
// that may still be alive, and the next start on the same directory removes it before serving.
// Files are replaced atomically and not synced: what they describe does not outlive the machine
// either. A nil *Ledger records nothing.
type Ledger struct {
	dir string
}

// OpenLedger opens (creating, mode 0700) the ledger in dir.
func OpenLedger(dir string) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return &Ledger{dir: dir}, nil
}

// ledgerName keeps entry names to one safe path element.
func ledgerName(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("ledger: bad entry name %q", name)
	}
	return name + ".json", nil
}

// Put records (or replaces) the entry name.
func (l *Ledger) Put(name string, entry any) error {
	if l == nil {
		return nil
	}
	file, err := ledgerName(name)
	if err != nil {
		return err
	}
	data, err := json.Marshal(entry)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	tmp := filepath.Join(l.dir, "."+file+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(l.dir, file)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Delete forgets the entry name; a missing entry is not an error.
func (l *Ledger) Delete(name string) error {
	if l == nil {
		return nil
	}
	file, err := ledgerName(name)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(l.dir, file)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Entries returns every recorded entry by name, undecoded. Half-written temporary files of a
// crash are removed.
func (l *Ledger) Entries() (map[string][]byte, error) {
	if l == nil {
		return nil, nil
	}
	list, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	out := map[string][]byte{}
	for _, e := range list {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			os.Remove(filepath.Join(l.dir, n))
			continue
		}
		name, ok := strings.CutSuffix(n, ".json")
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(l.dir, n))
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		out[name] = data
	}
	return out, nil
}
