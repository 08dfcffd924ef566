package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// MemoryReport is a wasmwhisk standalone's memory report (GET /wasmwhisk/v1/memory; see
// docs/benchmarking.md, "Memory"): what the operating system says the server's process and each
// of its containers use. A real OpenWhisk has no such report; loadgen then says memory is
// unavailable instead of showing a figure.
type MemoryReport struct {
	Backend      string            `json:"backend"`
	Time         time.Time         `json:"time"`
	UserMemoryMB int               `json:"userMemoryMB"`
	UsedMB       int               `json:"usedMB"`
	Server       ServerMemory      `json:"server"`
	Containers   []ContainerMemory `json:"containers"`
}

// ServerMemory is the standalone's own process, in bytes.
type ServerMemory struct {
	PID          int    `json:"pid"`
	PSSBytes     int64  `json:"pssBytes"`
	RSSBytes     int64  `json:"rssBytes"`
	PeakRSSBytes int64  `json:"peakRssBytes"`
	Method       string `json:"method"`
	Error        string `json:"error,omitempty"`
}

// ContainerMemory is one container of the standalone's pool.
type ContainerMemory struct {
	// ID is the container id, as in the records' wasmwhisk.containerId annotation (Row.ContainerID).
	ID       string `json:"id"`
	Action   string `json:"action,omitempty"`
	Kind     string `json:"kind"`
	MemoryMB int    `json:"memoryMB"`
	State    string `json:"state"`
	Busy     bool   `json:"busy"`
	Paused   bool   `json:"paused"`
	// Memory is nil when the backend does not measure its containers.
	Memory *MemoryFigures `json:"memory"`
	Error  string         `json:"error,omitempty"`
}

// MemoryFigures are a container's measured bytes; nil means not measurable, never zero.
type MemoryFigures struct {
	Bytes             *int64 `json:"bytes"`
	PeakBytes         *int64 `json:"peakBytes"`
	LinearMemoryBytes *int64 `json:"linearMemoryBytes,omitempty"`
	Method            string `json:"method"`
}

// ErrMemoryUnavailable means the API host does not report memory: it is not a wasmwhisk
// standalone (a real OpenWhisk answers 404).
var ErrMemoryUnavailable = errors.New("memory unavailable: the API host has no memory report (GET /wasmwhisk/v1/memory); only a wasmwhisk standalone measures its containers")

// memoryPath is the standalone's memory report.
const memoryPath = "/wasmwhisk/v1/memory"

// FetchMemory asks the API host for its memory report; settle asks the standalone to collect
// garbage first, for idle figures.
func FetchMemory(ctx context.Context, target Target, settle bool) (*MemoryReport, error) {
	c, err := newConn(target)
	if err != nil {
		return nil, err
	}
	query := ""
	if settle {
		query = "?settle=true"
	}
	var rep MemoryReport
	if err := c.memoryCall(ctx, http.MethodGet, memoryPath+query, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// ResetMemoryPeak restarts the standalone's peak measurements (POST /wasmwhisk/v1/memory/peak).
func ResetMemoryPeak(ctx context.Context, target Target) error {
	c, err := newConn(target)
	if err != nil {
		return err
	}
	return c.memoryCall(ctx, http.MethodPost, memoryPath+"/peak", nil)
}

// memoryCall sends one request of the memory report with the API key; a 404 or 405 (no such
// route) is ErrMemoryUnavailable.
func (c *conn) memoryCall(ctx context.Context, method, path string, out any) error {
	base := c.apihost
	if !strings.Contains(base, "://") {
		base = "https://" + base // as client-go and wsk read a host without a scheme
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("memory report: %w", err)
	}
	if user, pass, ok := strings.Cut(c.auth, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("memory report: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("memory report: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return ErrMemoryUnavailable
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("memory report: HTTP %d: %s", resp.StatusCode, truncate(strings.TrimSpace(string(data)), 200))
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("memory report: %w", err)
	}
	return nil
}
