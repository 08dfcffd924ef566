package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
	"github.com/wasmwhisk/wasmwhisk/report"
)

// activationTimeout bounds one activation (a first MobileNet cold start compiles an 8 MB module
// on a loaded machine).
const activationTimeout = 5 * time.Minute

// session is one standalone process serving one variant of one workload.
type session struct {
	r      *runner
	srv    *server
	action string
	raw    string // directory of this session's raw data
}

// open starts a standalone for v and deploys w with dep.
func (r *runner) open(ctx context.Context, v Variant, w Workload, dep Deploy, tag string) (*session, error) {
	raw := filepath.Join(r.out, "raw", w.Name, v.ID+tag)
	if err := os.MkdirAll(raw, 0o755); err != nil {
		return nil, err
	}
	srv, err := startServer(ctx, serverConfig{Bin: r.art.Bin, Backend: v.Backend, UserMemoryMB: r.plan.UserMemoryMB,
		CacheVolume: r.cacheVolume, LogPath: filepath.Join(raw, "standalone.log")})
	if err != nil {
		return nil, err
	}
	s := &session{r: r, srv: srv, action: w.Name, raw: raw}
	spec := loadgen.DeploySpec{Name: w.Name, Kind: v.Kind, Source: dep.Source, MemoryMB: w.MemoryMB(v.Kind)}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := loadgen.DeployAll(dctx, srv.target(), []loadgen.DeploySpec{spec}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) close() error { return s.srv.stop() }

// load runs one loadgen plan against the session's standalone and keeps its raw data.
func (s *session) load(ctx context.Context, name string, plan loadgen.Plan) (*loadgen.Result, error) {
	plan.Actions = []string{s.action}
	plan.Timeout = activationTimeout
	plan.NoMemory = true
	res, err := loadgen.Run(ctx, s.srv.target(), plan, nil)
	if res != nil {
		res.Meta.Command = "loadgen library, " + name
		if f, ferr := os.Create(filepath.Join(s.raw, name+".json")); ferr == nil {
			_ = loadgen.WriteRawJSON(f, res)
			f.Close()
		}
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// cold runs 1 + ColdSamples cold starts one after the other.
func (s *session) cold(ctx context.Context, params map[string]any, keep bool) (*loadgen.Result, error) {
	return s.load(ctx, "cold-c1", loadgen.Plan{Concurrency: []int{1}, Count: 1 + s.r.plan.ColdSamples, Cold: true, Params: params, KeepResults: keep})
}

// verdictRow measures one variant of the verdict workload.
func (r *runner) verdictRow(ctx context.Context, v Variant, w Workload) (report.VerdictRow, report.Series) {
	row := report.VerdictRow{Variant: r.variantInfo(v, w)}
	var series report.Series
	dep, err := r.deployable(v, w)
	if err != nil {
		row.Error = err.Error()
		return row, series
	}
	row.Artifact = dep.Artifact
	fail := func(err error) (report.VerdictRow, report.Series) {
		row.Error = err.Error()
		return row, series
	}
	s, err := r.open(ctx, v, w, dep, "")
	if err != nil {
		return fail(err)
	}
	defer s.close()
	res, err := s.cold(ctx, w.Params, false)
	if err != nil {
		return fail(err)
	}
	if row.Cold, series.ColdTotals, err = report.ColdFrom(res.Rows); err != nil {
		return fail(fmt.Errorf("cold: %w", err))
	}
	burst := r.plan.BurstConcurrency
	if res, err = s.load(ctx, "cold-burst", loadgen.Plan{Concurrency: []int{burst}, Repeat: r.plan.BurstRepeats, Cold: true, Params: w.Params}); err != nil {
		return fail(err)
	}
	if row.Burst, err = report.BurstFrom(res.Rows, burst); err != nil {
		return fail(fmt.Errorf("cold burst: %w", err))
	}
	if res, err = s.load(ctx, "warm-c1", loadgen.Plan{Concurrency: []int{1}, Count: r.plan.WarmSamples, Warmup: r.plan.Warmup, Params: w.Params}); err != nil {
		return fail(err)
	}
	levels, durs, err := report.WarmFrom(res)
	if err != nil {
		return fail(fmt.Errorf("warm: %w", err))
	}
	row.Warm, series.WarmDur = &levels[0], durs
	if v.Backend == "wasmhost" {
		s.close() // the density run needs a server with nothing else in it
		row.Memory = r.hostDensity(ctx, v, w, dep)
	} else {
		row.Memory = s.containerMemory(ctx, w.Params)
	}
	return row, series
}

// containerMemory measures the idle warm containers and the peak of one warm activation.
func (s *session) containerMemory(ctx context.Context, params map[string]any) report.Memory {
	target := s.srv.target()
	idle, err := loadgen.FetchMemory(ctx, target, true)
	if err != nil {
		return report.Memory{Unavailable: err.Error()}
	}
	if err := loadgen.ResetMemoryPeak(ctx, target); err != nil {
		return report.Memory{Unavailable: err.Error()}
	}
	res, err := s.load(ctx, "peak", loadgen.Plan{Concurrency: []int{1}, Count: 1, Params: params})
	if err != nil || len(res.Rows) == 0 || res.Rows[0].ContainerID == "" {
		return report.Memory{Unavailable: fmt.Sprintf("peak activation: %v", err)}
	}
	peak, err := loadgen.FetchMemory(ctx, target, false)
	if err != nil {
		return report.Memory{Unavailable: err.Error()}
	}
	return report.ContainerMemory(idle, peak, res.Rows[0].ContainerID, 1024)
}

// hostDensity runs a wasm host variant in a fresh standalone with 1, 2, 4, 8 warm instances of
// the action and fits the server's PSS against their number.
func (r *runner) hostDensity(ctx context.Context, v Variant, w Workload, dep Deploy) report.Memory {
	s, err := r.open(ctx, v, w, dep, "-density")
	if err != nil {
		return report.Memory{Unavailable: "density run: " + err.Error()}
	}
	defer s.close()
	target := s.srv.target()
	var reports []*loadgen.MemoryReport
	for _, k := range r.plan.Density {
		var rep *loadgen.MemoryReport
		for try := 0; try < 3; try++ {
			// k simultaneous activations keep k instances busy at once: the pool makes what it lacks.
			if _, err := s.load(ctx, fmt.Sprintf("density-%d-%d", k, try), loadgen.Plan{Concurrency: []int{k}, Count: k, Params: w.Params}); err != nil {
				return report.Memory{Unavailable: "density run: " + err.Error()}
			}
			if rep, err = loadgen.FetchMemory(ctx, target, true); err != nil {
				return report.Memory{Unavailable: err.Error()}
			}
			if warmInstances(rep, s.action) >= k {
				break
			}
		}
		if n := warmInstances(rep, s.action); n != k {
			return report.Memory{Unavailable: fmt.Sprintf("density run: %d warm instances, wanted %d", n, k)}
		}
		reports = append(reports, rep)
	}
	if err := loadgen.ResetMemoryPeak(ctx, target); err != nil {
		return report.Memory{Unavailable: err.Error()}
	}
	before, err := loadgen.FetchMemory(ctx, target, false)
	if err != nil {
		return report.Memory{Unavailable: err.Error()}
	}
	if _, err := s.load(ctx, "peak", loadgen.Plan{Concurrency: []int{1}, Count: 1, Params: w.Params}); err != nil {
		return report.Memory{Unavailable: "peak activation: " + err.Error()}
	}
	after, err := loadgen.FetchMemory(ctx, target, false)
	if err != nil {
		return report.Memory{Unavailable: err.Error()}
	}
	return report.HostMemory(r.plan.Density, reports, before, after, 1024)
}

// warmInstances counts the warm containers of action (namespace/name) in a memory report.
func warmInstances(rep *loadgen.MemoryReport, action string) int {
	n := 0
	for _, c := range rep.Containers {
		if c.State == "warm" && strings.HasSuffix(c.Action, "/"+action) {
			n++
		}
	}
	return n
}

// workloadRow measures one variant of a small workload: cold at c=1, warm at every level.
func (r *runner) workloadRow(ctx context.Context, v Variant, w Workload) report.WorkloadRow {
	row := report.WorkloadRow{Variant: r.variantInfo(v, w)}
	dep, err := r.deployable(v, w)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.Artifact = dep.Artifact
	s, err := r.open(ctx, v, w, dep, "")
	if err != nil {
		row.Error = err.Error()
		return row
	}
	defer s.close()
	cold, err := s.cold(ctx, w.Params, w.Stateful)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	if row.Cold, _, err = report.ColdFrom(cold.Rows); err != nil {
		row.Error = "cold: " + err.Error()
		return row
	}
	// One loadgen run per level, so that each level has its own count; merged for the table.
	warm := &loadgen.Result{Meta: loadgen.Meta{Plan: loadgen.Plan{Concurrency: r.plan.WarmLevels}}}
	var first []loadgen.Row
	for _, c := range r.plan.WarmLevels {
		if err := s.ensureWarm(ctx, c, w.Params); err != nil {
			row.Error = err.Error()
			return row
		}
		res, err := s.load(ctx, fmt.Sprintf("warm-c%d", c), loadgen.Plan{Concurrency: []int{c}, Count: r.plan.LevelCount(c),
			Params: w.Params, KeepResults: w.Stateful && c == 1})
		if err != nil {
			row.Error = err.Error()
			return row
		}
		warm.Rows = append(warm.Rows, res.Rows...)
		warm.Meta.Phases = append(warm.Meta.Phases, res.Meta.Phases...)
		if c == 1 {
			first = res.Rows
		}
	}
	if row.Warm, _, err = report.WarmFrom(warm); err != nil {
		row.Error = "warm: " + err.Error()
		return row
	}
	if w.Stateful {
		row.State = report.StateFrom(first, cold.Rows)
	}
	return row
}

// ensureWarm runs warm-up bursts at concurrency c until the standalone holds c warm containers
// of the action (a fast action served by few containers would otherwise meet cold starts while
// measured); at most warmupTries bursts. Warm-up activations are never measured.
func (s *session) ensureWarm(ctx context.Context, c int, params map[string]any) error {
	for try := 0; try < warmupTries; try++ {
		rep, err := loadgen.FetchMemory(ctx, s.srv.target(), false)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if warmInstances(rep, s.action) >= c {
			return nil
		}
		if _, err := s.load(ctx, fmt.Sprintf("warmup-c%d-%d", c, try), loadgen.Plan{Concurrency: []int{c}, Count: 2 * c, Params: params}); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	return nil // measured anyway: the cold starts left are counted and excluded
}

// warmupTries bounds ensureWarm.
const warmupTries = 6

// deployable checks the backend and prepares the artifact.
func (r *runner) deployable(v Variant, w Workload) (Deploy, error) {
	if v.Backend == "docker" {
		if err := r.art.needDocker(); err != nil {
			return Deploy{}, err
		}
	}
	dep, err := v.Artifact(r.art, w)
	if err != nil {
		return Deploy{}, err
	}
	if dep.Source == "" {
		return Deploy{}, errors.New("no artifact")
	}
	return dep, nil
}

func (r *runner) variantInfo(v Variant, w Workload) report.Variant {
	return report.Variant{ID: v.ID, Label: v.Label, Backend: v.Backend, Kind: v.Kind, MemoryMB: w.MemoryMB(v.Kind)}
}
