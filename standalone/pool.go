package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// PoolConfig sizes the container pool (SPEC §5.3). Zero values take OpenWhisk's defaults.
type PoolConfig struct {
	// UserMemoryMB is the memory budget all containers (busy, idle, prewarmed) share (default 2048,
	// as OpenWhisk's ansible and helm deployments).
	UserMemoryMB int
	// PauseGrace is how long an idle warm container stays running before it is paused (default
	// 10 s).
	PauseGrace time.Duration
	// IdleTimeout is how long a paused container is kept before it is destroyed (default 10 min).
	IdleTimeout time.Duration
	// StemCells are the prewarmed containers to keep per kind and memory.
	StemCells []StemCell
}

// StemCell asks for Count prewarmed containers of Kind with MemoryMB (a runtimes.json stemCells
// entry without reactive scaling).
type StemCell struct {
	Kind     string
	MemoryMB int
	Count    int
}

func (c *PoolConfig) withDefaults() PoolConfig {
	out := *c
	if out.UserMemoryMB <= 0 {
		out.UserMemoryMB = 2048
	}
	if out.PauseGrace <= 0 {
		out.PauseGrace = 10 * time.Second
	}
	if out.IdleTimeout <= 0 {
		out.IdleTimeout = 10 * time.Minute
	}
	return out
}

type containerState int

const (
	stStarting  containerState = iota // prewarm being created
	stPrewarmed                       // created, no /init yet
	stIniting                         // cold or prewarm container being created and/or initialised for key
	stWarm                            // initialised for key
	stRemoved
)

// pooled is one container and its pool bookkeeping; fields other than c, opMu and paused are
// guarded by pool.mu.
type pooled struct {
	c        Container
	spec     ContainerSpec
	key      string
	state    containerState
	active   int
	maxConc  int
	lastUsed time.Time
	gen      int
	timer    *time.Timer

	// initDone is closed when the first activation's create+init finished; initFail is then the
	// record response of a failed one (activations that joined the container share it).
	initDone chan struct{}
	initFail *Response

	opMu   sync.Mutex // serialises pause/resume
	paused bool
}

type leaseKind int

const (
	leaseWarm    leaseKind = iota // initialised container
	leaseJoin                     // another activation is initialising it (concurrency > 1)
	leasePrewarm                  // stem cell: needs /init
	leaseCold                     // memory reserved: needs Create and /init
)

// Pool is the invoker's container pool: warm reuse, stem cells, memory budget with LRU eviction,
// pause after the grace period and removal after the idle timeout.
type Pool struct {
	backend  Backend
	stemSpec func(cell StemCell, seq int) ContainerSpec
	cfg      PoolConfig
	log      *slog.Logger
	ctx      context.Context // cancelled by Close; bounds background creates and destroys

	mu         sync.Mutex
	used       int // MB reserved by every container that exists or is being created
	all        map[*pooled]struct{}
	byKey      map[string][]*pooled
	prewarmed  []*pooled
	changed    chan struct{}
	seq        int
	closed     bool
	failedStem map[StemCell]bool

	wg sync.WaitGroup
}

// NewPool returns a pool that creates containers with backend and starts the stem cells, whose
// container specs stemSpec builds. ctx bounds background work; Close must still be called.
func NewPool(ctx context.Context, backend Backend, cfg PoolConfig, stemSpec func(cell StemCell, seq int) ContainerSpec, log *slog.Logger) *Pool {
	if log == nil {
		log = slog.Default()
	}
	p := &Pool{
		backend: backend, stemSpec: stemSpec, cfg: cfg.withDefaults(), log: log, ctx: ctx,
		all: map[*pooled]struct{}{}, byKey: map[string][]*pooled{}, changed: make(chan struct{}),
		failedStem: map[StemCell]bool{},
	}
	p.mu.Lock()
	p.fillPrewarmsLocked()
	p.mu.Unlock()
	return p
}

var errPoolClosed = errors.New("pool: closed")

func (p *Pool) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// acquire finds or reserves a container for one activation of key (SPEC §5.3 order: warm,
// prewarm, cold, evict-then-cold, wait).
func (p *Pool) acquire(ctx context.Context, key string, spec ContainerSpec) (*pooled, leaseKind, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if spec.MemoryMB > p.cfg.UserMemoryMB {
		return nil, 0, fmt.Errorf("pool: action memory %d MB exceeds the user memory of %d MB", spec.MemoryMB, p.cfg.UserMemoryMB)
	}
	for {
		if p.closed {
			return nil, 0, errPoolClosed
		}
		var best *pooled
		for _, pc := range p.byKey[key] {
			if pc.active >= pc.maxConc || (pc.state != stWarm && pc.state != stIniting) {
				continue
			}
			if best == nil || (pc.state == stWarm && best.state != stWarm) ||
				(pc.state == best.state && pc.lastUsed.After(best.lastUsed)) {
				best = pc
			}
		}
		if best != nil {
			best.active++
			best.gen++
			if best.timer != nil {
				best.timer.Stop()
			}
			if best.state == stWarm {
				return best, leaseWarm, nil
			}
			return best, leaseJoin, nil
		}
		if spec.Kind != KindBlackbox {
			for i, pc := range p.prewarmed {
				if pc.spec.Kind == spec.Kind && pc.spec.MemoryMB == spec.MemoryMB {
					p.prewarmed = append(p.prewarmed[:i], p.prewarmed[i+1:]...)
					p.claimLocked(pc, key, spec)
					p.fillPrewarmsLocked()
					return pc, leasePrewarm, nil
				}
			}
		}
		if p.used+spec.MemoryMB > p.cfg.UserMemoryMB {
			p.evictLocked(spec.MemoryMB)
		}
		if p.used+spec.MemoryMB <= p.cfg.UserMemoryMB {
			p.used += spec.MemoryMB
			pc := &pooled{spec: spec}
			p.all[pc] = struct{}{}
			p.claimLocked(pc, key, spec)
			return pc, leaseCold, nil
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			p.mu.Lock()
			return nil, 0, ctx.Err()
		}
		p.mu.Lock()
	}
}

func (p *Pool) claimLocked(pc *pooled, key string, spec ContainerSpec) {
	pc.key = key
	pc.state = stIniting
	pc.active = 1
	pc.maxConc = max(spec.Concurrency, 1)
	pc.initDone = make(chan struct{})
	pc.lastUsed = time.Now()
	p.byKey[key] = append(p.byKey[key], pc)
}

// evictLocked removes least recently used idle warm containers until need MB fit, but only if
// the idle ones can free enough in total.
func (p *Pool) evictLocked(need int) {
	var idle []*pooled
	free := 0
	for pc := range p.all {
		if pc.state == stWarm && pc.active == 0 {
			idle = append(idle, pc)
			free += pc.spec.MemoryMB
		}
	}
	if p.used-free+need > p.cfg.UserMemoryMB {
		return
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].lastUsed.Before(idle[j].lastUsed) })
	for _, pc := range idle {
		if p.used+need <= p.cfg.UserMemoryMB {
			return
		}
		p.log.Debug("pool: evict idle container", "key", pc.key)
		p.removeLocked(pc)
	}
}

// initialized records the outcome of a leaseCold/leasePrewarm container's create+init: fail nil
// makes it warm, otherwise it is removed and joiners get fail.
func (p *Pool) initialized(pc *pooled, fail *Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.initFail = fail
	if fail == nil && pc.state == stIniting {
		pc.state = stWarm
	}
	close(pc.initDone)
}

// attach sets the container of a leaseCold entry once Create returned.
func (p *Pool) attach(pc *pooled, c Container, spec ContainerSpec) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.c = c
	pc.spec = spec
	return pc.state != stRemoved
}

// release ends one activation on pc; destroy removes the container (developer or whisk error,
// log collection failure, failed init).
func (p *Pool) release(pc *pooled, destroy bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc.active--
	if destroy {
		p.removeLocked(pc)
		return
	}
	if pc.state == stRemoved {
		return
	}
	pc.lastUsed = time.Now()
	if pc.active == 0 && pc.state == stWarm {
		pc.gen++
		gen := pc.gen
		pc.timer = time.AfterFunc(p.cfg.PauseGrace, func() { p.pauseIfIdle(pc, gen) })
	}
	p.broadcastLocked()
}

// resume makes sure a warm container is not paused before it is used.
func (p *Pool) resume(ctx context.Context, pc *pooled) error {
	pc.opMu.Lock()
	defer pc.opMu.Unlock()
	if !pc.paused {
		return nil
	}
	if err := pc.c.Resume(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	pc.paused = false
	p.mu.Unlock()
	return nil
}

func (p *Pool) pauseIfIdle(pc *pooled, gen int) {
	pc.opMu.Lock()
	p.mu.Lock()
	if pc.gen != gen || pc.active > 0 || pc.state != stWarm || pc.paused {
		p.mu.Unlock()
		pc.opMu.Unlock()
		return
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	err := pc.c.Pause(ctx)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		pc.paused = true
	}
	pc.opMu.Unlock()
	if err != nil {
		p.log.Warn("pool: pause failed; removing container", "container", pc.c.ID(), "err", err)
		if pc.active == 0 {
			p.removeLocked(pc)
		}
		return
	}
	if pc.gen == gen && pc.state == stWarm {
		pc.timer = time.AfterFunc(p.cfg.IdleTimeout, func() { p.removeIfIdle(pc, gen) })
	}
}

func (p *Pool) removeIfIdle(pc *pooled, gen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc.gen == gen && pc.active == 0 && pc.state == stWarm {
		p.log.Debug("pool: remove idle container", "key", pc.key)
		p.removeLocked(pc)
	}
}

// removeLocked takes pc out of the pool, frees its memory and destroys it in the background.
func (p *Pool) removeLocked(pc *pooled) {
	if pc.state == stRemoved {
		return
	}
	wasPrewarm := pc.state == stPrewarmed || pc.state == stStarting
	pc.state = stRemoved
	if pc.timer != nil {
		pc.timer.Stop()
	}
	delete(p.all, pc)
	list := p.byKey[pc.key]
	for i, x := range list {
		if x == pc {
			p.byKey[pc.key] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(p.byKey[pc.key]) == 0 {
		delete(p.byKey, pc.key)
	}
	for i, x := range p.prewarmed {
		if x == pc {
			p.prewarmed = append(p.prewarmed[:i:i], p.prewarmed[i+1:]...)
			break
		}
	}
	p.used -= pc.spec.MemoryMB
	p.broadcastLocked()
	if c := pc.c; c != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 30*time.Second)
			defer cancel()
			if err := c.Destroy(ctx); err != nil {
				p.log.Warn("pool: destroy container", "container", c.ID(), "err", err)
			}
		}()
	}
	if !wasPrewarm && !p.closed {
		p.fillPrewarmsLocked()
	}
}

// fillPrewarmsLocked starts stem cells until each configured kind+memory has its count, as far
// as the memory budget allows.
func (p *Pool) fillPrewarmsLocked() {
	if p.closed {
		return
	}
	for _, cell := range p.cfg.StemCells {
		if p.failedStem[cell] {
			continue
		}
		have := 0
		for pc := range p.all {
			if (pc.state == stPrewarmed || pc.state == stStarting) && pc.spec.Kind == cell.Kind && pc.spec.MemoryMB == cell.MemoryMB {
				have++
			}
		}
		for ; have < cell.Count && p.used+cell.MemoryMB <= p.cfg.UserMemoryMB; have++ {
			p.seq++
			spec := ContainerSpec{Kind: cell.Kind, MemoryMB: cell.MemoryMB, Concurrency: 1}
			pc := &pooled{state: stStarting, spec: spec}
			p.all[pc] = struct{}{}
			p.used += cell.MemoryMB
			seq, cell := p.seq, cell
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.startPrewarm(pc, cell, seq)
			}()
		}
	}
}

func (p *Pool) startPrewarm(pc *pooled, cell StemCell, seq int) {
	spec := p.stemSpec(cell, seq)
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Minute)
	c, err := p.backend.Create(ctx, spec)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.log.Warn("pool: start stem cell", "kind", cell.Kind, "memory", cell.MemoryMB, "err", err)
		p.failedStem[cell] = true // no retry loop: a broken stem cell is reported once, not forever
		p.removeLocked(pc)
		return
	}
	pc.c, pc.spec = c, spec
	if pc.state == stRemoved || p.closed {
		p.removeLockedForce(pc)
		return
	}
	pc.state = stPrewarmed
	p.prewarmed = append(p.prewarmed, pc)
	p.broadcastLocked()
}

// removeLockedForce destroys a container that was already taken out of the maps.
func (p *Pool) removeLockedForce(pc *pooled) {
	c := pc.c
	if c == nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 30*time.Second)
		defer cancel()
		_ = c.Destroy(ctx)
	}()
}

// Stats is a snapshot of the pool for tests and metrics.
type Stats struct {
	UsedMB, Containers, Warm, Paused, Prewarmed, Busy int
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{UsedMB: p.used, Containers: len(p.all), Prewarmed: len(p.prewarmed)}
	for pc := range p.all {
		if pc.state == stWarm {
			s.Warm++
			if pc.active > 0 {
				s.Busy++
			}
			if pc.paused {
				s.Paused++
			}
		}
	}
	return s
}

// Close destroys every container and waits for background work.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	for pc := range p.all {
		p.removeLocked(pc)
	}
	p.broadcastLocked()
	p.mu.Unlock()
	p.wg.Wait()
}
