package loadgen

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunWarmClosedLoop(t *testing.T) {
	p := newWhiskPeer(t)
	p.addAction("hello", "go:1.22", "ok")
	plan := Plan{Actions: []string{"hello"}, Concurrency: []int{1, 2}, Count: 4, Warmup: 2, Repeat: 2,
		Params: map[string]any{"name": "x"}}
	res, err := Run(context.Background(), p.target(), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	var measured, warm int
	for _, r := range res.Rows {
		if r.Warmup {
			warm++
			continue
		}
		measured++
		if r.Status != StatusSuccess || r.HTTPStatus != http.StatusOK || r.Kind != "go:1.22" || len(r.ActivationID) != 32 {
			t.Errorf("bad row %+v", r)
		}
		if r.Run != r.Duration-r.InitTime || (!r.Cold && r.InitTime != 0) || (r.Cold && r.InitTime <= 0) {
			t.Errorf("run/init inconsistent: %+v", r)
		}
		if r.Polled || r.Error != "" || r.ClientLatency <= 0 {
			t.Errorf("unexpected polling/error/latency: %+v", r)
		}
	}
	// 2 repeats × 2 levels × (4 measured + 2 warm-up).
	if measured != 16 || warm != 8 {
		t.Fatalf("measured %d warm-up %d, want 16 and 8", measured, warm)
	}
	// After warm-up at level 1 the single container is warm: no measured cold row at c=1.
	for _, r := range res.Rows {
		if !r.Warmup && r.Concurrency == 1 && r.Cold {
			t.Errorf("cold row after warm-up at c=1: %+v", r)
		}
	}
	if res.Meta.Interrupted || len(res.Meta.CleanupErrors) > 0 {
		t.Errorf("meta %+v", res.Meta)
	}
	// One phase per measured level and repeat, warm-up excluded.
	if len(res.Meta.Phases) != 4 {
		t.Fatalf("phases %+v", res.Meta.Phases)
	}
	for _, ph := range res.Meta.Phases {
		if ph.Invocations != 4 || ph.Seconds <= 0 || ph.Action != "hello" {
			t.Errorf("phase %+v", ph)
		}
	}
	// A peer that is not a wasmwhisk standalone has no memory report: unavailable, not zero.
	if res.Meta.Memory != nil || res.Meta.MemoryUnavailable != ErrMemoryUnavailable.Error() {
		t.Errorf("memory %+v, unavailable %q", res.Meta.Memory, res.Meta.MemoryUnavailable)
	}
	if _, err := FetchMemory(context.Background(), p.target(), false); !errors.Is(err, ErrMemoryUnavailable) {
		t.Errorf("FetchMemory from the peer: %v", err)
	}
	if err := ResetMemoryPeak(context.Background(), p.target()); !errors.Is(err, ErrMemoryUnavailable) {
		t.Errorf("ResetMemoryPeak on the peer: %v", err)
	}
}

func TestRunColdCopiesAndCleansUp(t *testing.T) {
	p := newWhiskPeer(t)
	p.addAction("hello", "wasm:0.1", "ok")
	p.addAction("other", "blackbox", "ok")
	plan := Plan{Actions: []string{"hello", "other"}, Concurrency: []int{1, 3}, Cold: true}
	res, err := Run(context.Background(), p.target(), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2*(1+3) {
		t.Fatalf("%d rows, want 8", len(res.Rows))
	}
	invoked := map[string]bool{}
	for _, r := range res.Rows {
		if !r.Cold || r.InitTime <= 0 {
			t.Errorf("not cold: %+v", r)
		}
		if invoked[r.Invoked] || r.Invoked == r.Action || !strings.HasPrefix(r.Invoked, r.Action+"-cold-") {
			t.Errorf("copy name %q reused or not a copy of %q", r.Invoked, r.Action)
		}
		invoked[r.Invoked] = true
	}
	names := p.actionNames()
	slices.Sort(names)
	if !slices.Equal(names, []string{"hello", "other"}) {
		t.Fatalf("actions left behind: %v", names)
	}
	if len(p.deleted) != 8 {
		t.Fatalf("deleted %d copies, want 8", len(p.deleted))
	}
}

func TestRunColdReportsWarmActivations(t *testing.T) {
	// A controller that ignores the name and reuses a container would give a warm record:
	// loadgen must keep it, marked not cold, rather than drop or relabel it.
	p := newWhiskPeer(t)
	p.addAction("hello", "wasm:0.1", "ok")
	plan := Plan{Actions: []string{"hello"}, Concurrency: []int{2}, Count: 2, Cold: true}
	res, err := Run(context.Background(), p.target(), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Rows[0].Cold = false // as if the record had no initTime
	sum := SummarizeRows(res)
	if len(sum.Levels) != 1 || sum.Levels[0].NonCold != 1 || sum.Levels[0].Total.N != 1 {
		t.Fatalf("summary %+v", sum.Levels)
	}
}

func TestRunStatuses(t *testing.T) {
	tests := []struct {
		code       string
		wantStatus string
		wantHTTP   int
		wantPolled bool
		wantRecord bool
	}{
		{"ok", "success", 200, false, true},
		{"appfail", "application error", 502, false, true},
		{"throttle", StatusThrottled, 429, false, false},
		{"busy", StatusOverloaded, 503, false, false},
		{"accepted", "success", 202, true, true},
		{"whiskerr", "whisk internal error", 500, true, true},
		{"array", "success", 200, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			p := newWhiskPeer(t)
			p.addAction("act", "go:1.22", tt.code)
			res, err := Run(context.Background(), p.target(), Plan{Actions: []string{"act"}, Concurrency: []int{1}, Count: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 1 {
				t.Fatalf("%d rows", len(res.Rows))
			}
			r := res.Rows[0]
			if r.Status != tt.wantStatus || r.HTTPStatus != tt.wantHTTP || r.Polled != tt.wantPolled || r.HasRecord() != tt.wantRecord {
				t.Fatalf("row %+v", r)
			}
			if tt.wantRecord && (len(r.ActivationID) != 32 || !r.Cold || r.Kind != "go:1.22") {
				t.Fatalf("record fields missing: %+v", r)
			}
			if tt.code == "appfail" && r.Error != "sorry" {
				t.Fatalf("error text of the failed activation: %q", r.Error)
			}
			if !tt.wantRecord && r.Error == "" {
				t.Fatalf("no error text for %s: %+v", tt.code, r)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	p := newWhiskPeer(t)
	p.addAction("hello", "go:1.22", "ok")
	bad := p.target()
	bad.Auth = "nobody:wrong"
	if _, err := Run(context.Background(), bad, Plan{Actions: []string{"hello"}, Concurrency: []int{1}, Cold: true}, nil); err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := Run(context.Background(), p.target(), Plan{Actions: []string{"missing"}, Concurrency: []int{1}, Cold: true}, nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing action: %v", err)
	}
	res, err := Run(context.Background(), p.target(), Plan{Actions: []string{"missing"}, Concurrency: []int{1}}, nil)
	if err != nil || len(res.Rows) != 1 || res.Rows[0].Status != StatusFailed || res.Rows[0].HTTPStatus != 404 {
		t.Fatalf("invoking a missing action: %v %+v", err, res)
	}
	if _, err := Run(context.Background(), p.target(), Plan{}, nil); err == nil {
		t.Fatal("empty plan accepted")
	}
}

// countingProgress cancels the run after `after` steps of the measured phase.
type countingProgress struct {
	steps  atomic.Int64
	after  int64
	cancel context.CancelFunc
}

func (c *countingProgress) Begin(string, int) {}
func (c *countingProgress) End()              {}
func (c *countingProgress) Step(r Row) {
	if r.ActivationID != "" && c.steps.Add(1) == c.after {
		c.cancel()
	}
}

func TestRunInterruptedKeepsRowsAndDeletesCopies(t *testing.T) {
	p := newWhiskPeer(t)
	p.addAction("slow", "go:1.22", "sleep:30")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := &countingProgress{after: 3, cancel: cancel}
	plan := Plan{Actions: []string{"slow"}, Concurrency: []int{1}, Count: 50, Cold: true}
	res, err := Run(ctx, p.target(), plan, prog)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !res.Meta.Interrupted || len(res.Rows) < 3 || len(res.Rows) >= 50 {
		t.Fatalf("interrupted=%v rows=%d", res.Meta.Interrupted, len(res.Rows))
	}
	for _, r := range res.Rows {
		if r.Status != StatusSuccess {
			t.Errorf("row cut by the interrupt was kept: %+v", r)
		}
	}
	if names := p.actionNames(); !slices.Equal(names, []string{"slow"}) {
		t.Fatalf("copies left after interrupt: %d actions", len(names))
	}
}

func TestRunOpenLoopAccountsForEverySend(t *testing.T) {
	p := newWhiskPeer(t)
	p.addAction("slow", "go:1.22", "sleep:40")
	// 100/s for 300 ms = 30 sends; one worker and a queue of one cannot take them all.
	plan := Plan{Actions: []string{"slow"}, Concurrency: []int{1}, Rate: 100, Duration: 300 * time.Millisecond}
	res, err := Run(context.Background(), p.target(), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, d := range res.Meta.Dropped {
		dropped += d.Count
	}
	if len(res.Rows)+dropped != 30 {
		t.Fatalf("rows %d + dropped %d != 30 sends", len(res.Rows), dropped)
	}
	if dropped == 0 {
		t.Fatalf("no sends dropped with one worker for 40 ms actions at 100/s")
	}
	for _, r := range res.Rows {
		if r.Status != StatusSuccess || float64(r.Duration) > r.ClientLatency+1 {
			t.Errorf("row %+v", r)
		}
	}
}

func TestBasicAuthHeaderMatchesClient(t *testing.T) {
	// Guard for the peer: client-go sends the key as HTTP Basic.
	var got string
	p := newWhiskPeer(t)
	p.addAction("hello", "go:1.22", "ok")
	inner := p.srv.Config.Handler
	p.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		inner.ServeHTTP(w, r)
	})
	if _, err := Run(context.Background(), p.target(), Plan{Actions: []string{"hello"}, Concurrency: []int{1}}, nil); err != nil {
		t.Fatal(err)
	}
	if got != basicAuthHeader {
		t.Fatalf("Authorization %q", got)
	}
}
