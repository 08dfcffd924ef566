package standalone

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/standalone/memstat"
)

// Memory report
//
// The standalone tells what the operating system says its containers use, so that a benchmark
// can compare the memory of a Docker container, a child process and a wasm instance without
// guessing. It is not part of OpenWhisk's API (a real OpenWhisk answers 404, and loadgen then
// reports memory as unavailable):
//
//	GET  /wasmwhisk/v1/memory[?settle=true]   the report below (settle: collect garbage and return
//	                                          freed memory to the OS first, for idle figures)
//	POST /wasmwhisk/v1/memory/peak            restart every peak measurement (204)
//
// Both take the API key like the OpenWhisk API. Each backend measures its own containers
// (MemoryMeter): docker reads the container's memory cgroup (usage minus page cache, v1 or v2;
// the Engine's stats API when the cgroup is not readable from here), process reads the child's
// memory cgroup when it has one and the PSS of its process tree otherwise, and wasmhost, whose
// instances live in the server's own process, reports each instance's linear memory and leaves
// the rest to the server's own figures (MemoryReport.Server): the cost of one more warm instance
// is the server's PSS growth per added instance.

// MemoryMeter is implemented by containers whose memory the operating system can tell.
type MemoryMeter interface {
	// Memory measures the container now.
	Memory(ctx context.Context) (ContainerMemory, error)
	// ResetPeak restarts the container's peak measurement.
	ResetPeak(ctx context.Context) error
}

// ContainerMemory is one container's memory in bytes; a nil figure is one the backend cannot
// measure (never reported as zero).
type ContainerMemory struct {
	// Bytes is what the container uses now.
	Bytes *int64 `json:"bytes"`
	// PeakBytes is the most it used since it was created or its peak was last reset.
	PeakBytes *int64 `json:"peakBytes"`
	// LinearMemoryBytes is the size of the wasm instance's linear memory (wasm host only).
	LinearMemoryBytes *int64 `json:"linearMemoryBytes,omitempty"`
	// Method says how the figures were measured.
	Method string `json:"method"`
}

// ProcessMemoryReport is the standalone's own process.
type ProcessMemoryReport struct {
	PID          int    `json:"pid"`
	PSSBytes     int64  `json:"pssBytes"`
	RSSBytes     int64  `json:"rssBytes"`
	PeakRSSBytes int64  `json:"peakRssBytes"`
	Method       string `json:"method"`
	Error        string `json:"error,omitempty"`
}

// ContainerMemoryReport is one container of the pool with its memory.
type ContainerMemoryReport struct {
	// ID is the backend's container id (the records' wasmwhisk.containerId annotation).
	ID string `json:"id"`
	// Action is namespace/name of the action the container is initialised for; empty for a
	// stem cell.
	Action   string `json:"action,omitempty"`
	Kind     string `json:"kind"`
	MemoryMB int    `json:"memoryMB"`
	// State is prewarmed, initializing or warm.
	State  string `json:"state"`
	Busy   bool   `json:"busy"`
	Paused bool   `json:"paused"`
	// Memory is nil when the backend does not measure containers.
	Memory *ContainerMemory `json:"memory"`
	Error  string           `json:"error,omitempty"`
}

// MemoryReport is the answer of GET /wasmwhisk/v1/memory.
type MemoryReport struct {
	Backend      string                  `json:"backend"`
	Time         time.Time               `json:"time"`
	UserMemoryMB int                     `json:"userMemoryMB"`
	UsedMB       int                     `json:"usedMB"`
	Server       ProcessMemoryReport     `json:"server"`
	Containers   []ContainerMemoryReport `json:"containers"`
}

// memoryPathPrefix is where the memory report is served.
const memoryPathPrefix = "/wasmwhisk/v1/memory"

// meterTimeout bounds the measurement of one container.
const meterTimeout = 5 * time.Second

// handleMemory serves GET /wasmwhisk/v1/memory.
func (s *Server) handleMemory(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("settle") == "true" {
		runtime.GC()
		debug.FreeOSMemory()
	}
	writeJSON(w, http.StatusOK, s.MemoryReport(r.Context()))
}

// handleMemoryPeak serves POST /wasmwhisk/v1/memory/peak.
func (s *Server) handleMemoryPeak(w http.ResponseWriter, r *http.Request) {
	for _, pc := range s.pool.memorySnapshot() {
		if m, ok := pc.c.(MemoryMeter); ok {
			ctx, cancel := context.WithTimeout(r.Context(), meterTimeout)
			err := m.ResetPeak(ctx)
			cancel()
			if err != nil {
				s.log.Warn("memory: reset peak", "container", pc.c.ID(), "err", err)
			}
		}
	}
	if err := memstat.ResetPeakRSS(os.Getpid()); err != nil {
		s.log.Warn("memory: reset the server's peak RSS", "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

// MemoryReport measures the server's process and every container of the pool.
func (s *Server) MemoryReport(ctx context.Context) MemoryReport {
	rep := MemoryReport{Backend: s.cfg.Backend.Name(), Time: time.Now().UTC(), Containers: []ContainerMemoryReport{}}
	st := s.pool.Stats()
	rep.UserMemoryMB, rep.UsedMB = s.pool.cfg.UserMemoryMB, st.UsedMB
	rep.Server = ProcessMemoryReport{PID: os.Getpid(), Method: memstat.ProcessMethod}
	if m, err := memstat.ReadProcess(os.Getpid()); err != nil {
		rep.Server.Error = err.Error()
	} else {
		rep.Server.PSSBytes, rep.Server.RSSBytes, rep.Server.PeakRSSBytes = m.PSS, m.RSS, m.PeakRSS
	}
	for _, pc := range s.pool.memorySnapshot() {
		c := ContainerMemoryReport{ID: pc.c.ID(), Action: actionOfKey(pc.key), Kind: pc.spec.Kind,
			MemoryMB: pc.spec.MemoryMB, State: pc.state, Busy: pc.busy, Paused: pc.paused}
		if m, ok := pc.c.(MemoryMeter); ok {
			mctx, cancel := context.WithTimeout(ctx, meterTimeout)
			mem, err := m.Memory(mctx)
			cancel()
			if err != nil {
				c.Error = err.Error()
			} else {
				c.Memory = &mem
			}
		}
		rep.Containers = append(rep.Containers, c)
	}
	return rep
}

// actionOfKey extracts namespace/name from a warm key ("ns|ns/name@version|…").
func actionOfKey(key string) string {
	_, rest, ok := strings.Cut(key, "|")
	if !ok {
		return key
	}
	rest, _, _ = strings.Cut(rest, "|")
	name, _, _ := strings.Cut(rest, "@")
	return name
}

// pooledView is what the memory report needs of one pool entry, copied under the pool's lock.
type pooledView struct {
	c      Container
	key    string
	spec   ContainerSpec
	state  string
	busy   bool
	paused bool
}

// memorySnapshot lists the pool's containers that exist (created, not removed).
func (p *Pool) memorySnapshot() []pooledView {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []pooledView
	for pc := range p.all {
		if pc.c == nil || pc.state == stRemoved || pc.state == stStarting {
			continue
		}
		state := "warm"
		switch pc.state {
		case stPrewarmed:
			state = "prewarmed"
		case stIniting:
			state = "initializing"
		}
		out = append(out, pooledView{c: pc.c, key: pc.key, spec: pc.spec, state: state, busy: pc.active > 0, paused: pc.paused})
	}
	return out
}

// Int64 returns a pointer to v, for ContainerMemory's optional figures.
func Int64(v int64) *int64 { return &v }
