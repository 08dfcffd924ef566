package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/memstat"
)

// MemoryStats is the memory part of the Engine's container statistics (GET
// /containers/{id}/stats), in bytes.
type MemoryStats struct {
	Usage    int64 `json:"usage"`
	MaxUsage int64 `json:"max_usage"` // cgroup v1 only
	// Stats is the cgroup's memory.stat (total_cache, total_shmem on v1; file, shmem on v2).
	Stats map[string]int64 `json:"stats"`
}

// ContainerMemoryStats asks the engine for one sample of a container's memory statistics.
func (c *Client) ContainerMemoryStats(ctx context.Context, id string) (MemoryStats, error) {
	var raw struct {
		MemoryStats MemoryStats `json:"memory_stats"`
	}
	q := url.Values{"stream": {"false"}, "one-shot": {"true"}}
	if err := c.call(ctx, "container stats", http.MethodGet, "/containers/"+url.PathEscape(id)+"/stats", q, nil, &raw); err != nil {
		return MemoryStats{}, err
	}
	return raw.MemoryStats, nil
}

// containerPid is the host pid of the container's first process (0 when it is not running).
func (c *Client) containerPid(ctx context.Context, id string) (int, error) {
	var raw struct {
		State struct {
			Pid int `json:"Pid"`
		} `json:"State"`
	}
	if err := c.call(ctx, "inspect container", http.MethodGet, "/containers/"+url.PathEscape(id)+"/json", nil, nil, &raw); err != nil {
		return 0, err
	}
	if raw.State.Pid == 0 {
		return 0, fmt.Errorf("docker: container %.12s has no process", id)
	}
	return raw.State.Pid, nil
}

// memoryCgroup finds the container's memory cgroup on this machine (the engine runs here; from
// /proc/<pid>/cgroup of its first process).
func (c *Container) memoryCgroup(ctx context.Context) (memstat.Cgroup, error) {
	pid, err := c.backend.client.containerPid(ctx, c.id)
	if err != nil {
		return memstat.Cgroup{}, err
	}
	return memstat.CgroupOf(pid)
}

const statsAPIMethod = "Engine stats API: usage − (cache − shmem); peak: max_usage (cgroup v1 only)"

var _ standalone.MemoryMeter = (*Container)(nil)

// Memory implements standalone.MemoryMeter: the container's cgroup usage minus page cache, read
// from the cgroup files when the engine runs on this machine, else from the Engine's stats API.
func (c *Container) Memory(ctx context.Context) (standalone.ContainerMemory, error) {
	if c.destroyed.Load() {
		return standalone.ContainerMemory{}, errDestroyed
	}
	if cg, err := c.memoryCgroup(ctx); err == nil {
		m, err := cg.Read()
		if err != nil {
			return standalone.ContainerMemory{}, err
		}
		out := standalone.ContainerMemory{Bytes: standalone.Int64(m.Bytes()), Method: cg.Method()}
		if p := m.PeakBytes(); p > 0 {
			out.PeakBytes = standalone.Int64(p)
		}
		return out, nil
	}
	st, err := c.backend.client.ContainerMemoryStats(ctx, c.id)
	if err != nil {
		return standalone.ContainerMemory{}, fmt.Errorf("docker: memory of %.12s: %w", c.id, err)
	}
	cache, shmem := st.Stats["total_cache"], st.Stats["total_shmem"]
	if _, v1 := st.Stats["total_cache"]; !v1 {
		cache, shmem = st.Stats["file"], st.Stats["shmem"]
	}
	pageCache := max(cache-shmem, 0)
	out := standalone.ContainerMemory{Bytes: standalone.Int64(max(st.Usage-pageCache, 0)), Method: statsAPIMethod}
	if st.MaxUsage > 0 {
		out.PeakBytes = standalone.Int64(max(st.MaxUsage-pageCache, *out.Bytes))
	}
	return out, nil
}

// ResetPeak implements standalone.MemoryMeter through the container's cgroup; the Engine's API
// cannot reset a peak.
func (c *Container) ResetPeak(ctx context.Context) error {
	if c.destroyed.Load() {
		return errDestroyed
	}
	cg, err := c.memoryCgroup(ctx)
	if err != nil {
		return errors.Join(memstat.ErrPeakNotResettable, err)
	}
	return cg.ResetPeak()
}
