package standalone

import (
	"context"
	"errors"
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
