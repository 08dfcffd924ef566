package process

import (
	"context"
	"fmt"

	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/memstat"
)

var _ standalone.MemoryMeter = (*container)(nil)

// Memory implements standalone.MemoryMeter: the container's memory cgroup (usage minus page
// cache) when it has one, else the PSS of the proxy's process tree with its summed peak RSS.
func (c *container) Memory(ctx context.Context) (standalone.ContainerMemory, error) {
	select {
	case <-c.exited:
		return standalone.ContainerMemory{}, fmt.Errorf("process %s: %w", c.id, standalone.ErrNoResponse)
	default:
	}
	if dir := c.memoryCgroup(); dir != "" {
		cg, err := memstat.Open(dir)
		if err == nil {
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
	}
	m, err := memstat.ReadTree(c.cmd.Process.Pid)
	if err != nil {
		return standalone.ContainerMemory{}, fmt.Errorf("process %s: %w", c.id, err)
	}
	return standalone.ContainerMemory{
		Bytes: standalone.Int64(m.PSS), PeakBytes: standalone.Int64(m.PeakRSS),
		Method: "PSS of the process tree (/proc/<pid>/smaps_rollup); peak: summed VmHWM (resident, not proportional)",
	}, nil
}

// ResetPeak implements standalone.MemoryMeter.
func (c *container) ResetPeak(ctx context.Context) error {
	if dir := c.memoryCgroup(); dir != "" {
		if cg, err := memstat.Open(dir); err == nil {
			return cg.ResetPeak()
		}
	}
	return memstat.ResetPeakRSS(c.cmd.Process.Pid)
}
