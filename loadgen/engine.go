package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"golang.org/x/sync/errgroup"
)

// Target says which OpenWhisk to drive and as whom.
type Target struct {
	// APIHost is the controller, e.g. http://127.0.0.1:3233; without a
	// scheme, https is assumed (as wsk does).
	APIHost string `json:"apihost"`
	// Auth is the API key "uuid:key".
	Auth string `json:"-"`
	// Namespace is the namespace of the actions; "" means "_".
	Namespace string `json:"namespace"`
	// Insecure skips TLS certificate verification.
	Insecure bool `json:"insecure"`
}

// Plan is what to measure. Zero values: Count 0 means as many invocations as
// the level; Repeat 0 means 1; Rate 0 means closed loop; Timeout 0 means 5 minutes.
type Plan struct {
	Actions     []string       `json:"actions"`
	Concurrency []int          `json:"concurrency"`
	Count       int            `json:"count"`
	Repeat      int            `json:"repeat"`
	Params      map[string]any `json:"params"`
	Warmup      int            `json:"warmup"`
	Cold        bool           `json:"cold"`
	// Rate is the open-loop arrival rate in requests per second.
	Rate float64 `json:"rate,omitempty"`
	// Duration is how long the open loop sends.
	Duration time.Duration `json:"duration,omitempty"`
	// Timeout bounds one activation: the invoke plus any polling for its record.
	Timeout time.Duration `json:"timeout"`
	// KeepResults keeps each activation's result in its row (Row.Result), e.g. to check state.
	KeepResults bool `json:"keepResults,omitempty"`
	// NoMemory skips the memory report taken at the end of the run.
	NoMemory bool `json:"noMemory,omitempty"`
}

// Progress is told what the engine is doing; it must be safe for concurrent Step calls.
type Progress interface {
	// Begin starts a phase of total invocations.
	Begin(phase string, total int)
	// Step reports one finished invocation.
	Step(row Row)
	// End closes the phase.
	End()
}

// NoProgress discards progress reports.
type NoProgress struct{}

// Begin does nothing.
func (NoProgress) Begin(string, int) {}

// Step does nothing.
func (NoProgress) Step(Row) {}

// End does nothing.
func (NoProgress) End() {}

// conn holds the two whisk clients: one for actions in the target namespace
// and one for activations, which client-go addresses through "_" (its
// Activations service overwrites Config.Namespace, so requests are built here
// instead of calling it from many goroutines).
type conn struct {
	actions     *whisk.Client
	activations *whisk.Client
	// http, apihost and auth serve the routes client-go does not know (memory.go).
	http    *http.Client
	apihost string
	auth    string
}

func newConn(t Target) (*conn, error) {
	transport := &http.Transport{
		Proxy:               nil, // traffic stays on the configured host, never an environment proxy
		MaxIdleConns:        2 * maxConcurrency,
		MaxIdleConnsPerHost: maxConcurrency,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: t.Insecure},
	}
	// No client timeout: each call carries a context deadline (Plan.Timeout).
	hc := &http.Client{Transport: transport}
	ns := t.Namespace
	if ns == "" {
		ns = "_"
	}
	mk := func(namespace string) (*whisk.Client, error) {
		// Insecure stays false in the whisk config so client-go keeps our transport.
		return whisk.NewClient(hc, &whisk.Config{Host: t.APIHost, AuthToken: t.Auth, Namespace: namespace})
	}
	a, err := mk(ns)
	if err != nil {
		return nil, fmt.Errorf("openwhisk client for %s: %w", t.APIHost, err)
	}
	b, err := mk("_")
	if err != nil {
		return nil, fmt.Errorf("openwhisk client for %s: %w", t.APIHost, err)
	}
	return &conn{actions: a, activations: b, http: hc, apihost: t.APIHost, auth: t.Auth}, nil
}

// do sends one request through client-go's request building and response
// classification, with ctx attached.
func do(ctx context.Context, c *whisk.Client, method, route string, body, v any, errorOnTimeout bool) (*http.Response, error) {
	req, err := c.NewRequest(method, route, body, whisk.IncludeNamespaceInUrl)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, route, err)
	}
	return c.Do(req.WithContext(ctx), v, errorOnTimeout)
}

func escapeName(name string) string { return (&url.URL{Path: name}).String() }

// getAction fetches an action with its code (to copy it for cold starts).
func (c *conn) getAction(ctx context.Context, name string) (*whisk.Action, error) {
	a := new(whisk.Action)
	if _, err := do(ctx, c.actions, http.MethodGet, "actions/"+escapeName(name)+"?code=true", nil, a, false); err != nil {
		return nil, fmt.Errorf("get action %s: %w", name, err)
	}
	return a, nil
}

// putAction creates or replaces an action.
func (c *conn) putAction(ctx context.Context, a *whisk.Action) error {
	if _, err := do(ctx, c.actions, http.MethodPut, "actions/"+escapeName(a.Name)+"?overwrite=true", a, new(whisk.Action), false); err != nil {
		return fmt.Errorf("put action %s: %w", a.Name, err)
	}
	return nil
}

// deleteAction removes an action.
func (c *conn) deleteAction(ctx context.Context, name string) error {
	if _, err := do(ctx, c.actions, http.MethodDelete, "actions/"+escapeName(name), nil, new(whisk.Action), false); err != nil {
		return fmt.Errorf("delete action %s: %w", name, err)
	}
	return nil
}

// invoke runs one blocking invocation with result=false and fills row from
// the activation record: straight from the response on 200 and 502; on 202
// (blocking wait expired) and 500 by polling GET activations/{id} until the
// record exists.
func (c *conn) invoke(ctx context.Context, name string, params map[string]any, row *Row, keepResult bool) error {
	if path, ok := webActionPath(name); ok {
		return c.invokeWeb(ctx, path, params, row, keepResult)
	}
	var rec whisk.Activation
	resp, err := do(ctx, c.actions, http.MethodPost, "actions/"+escapeName(name)+"?blocking=true&result=false", params, &rec, whisk.ExitWithErrorOnTimeout)
	if resp == nil {
		row.Status = StatusFailed
		return fmt.Errorf("invoke %s: %w", name, err)
	}
	row.HTTPStatus = resp.StatusCode
	id := rec.ActivationID
	if id == "" {
		id = resp.Header.Get("x-openwhisk-activation-id")
	}
	switch {
	case resp.StatusCode == http.StatusOK && rec.ActivationID != "" && rec.End != 0:
		row.fillFromRecord(&rec, keepResult)
		return nil
	case resp.StatusCode == http.StatusBadGateway && isApplicationError(err) && rec.ActivationID != "" && rec.End != 0:
		// A completed activation whose action failed: the body is its record.
		row.fillFromRecord(&rec, keepResult)
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		row.Status = StatusThrottled
		return fmt.Errorf("invoke %s: %w", name, err)
	case resp.StatusCode == http.StatusServiceUnavailable:
		row.Status = StatusOverloaded
		return fmt.Errorf("invoke %s: %w", name, err)
	case id != "" && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted ||
		resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusInternalServerError):
		// 202: still running; 500: whisk error whose body client-go does not decode;
		// 200/502 with a body that is not a record (an array result): fetch it.
		row.Polled = true
		if err := c.pollActivation(ctx, id, &rec); err != nil {
			row.ActivationID = id
			row.Status = StatusFailed
			return fmt.Errorf("invoke %s: activation %s: %w", name, id, err)
		}
		row.fillFromRecord(&rec, keepResult)
		return nil
	}
	row.Status = StatusFailed
	if err == nil {
		err = fmt.Errorf("unexpected HTTP %d without an activation record", resp.StatusCode)
	}
	return fmt.Errorf("invoke %s: %w", name, err)
}

func isApplicationError(err error) bool {
	var we *whisk.WskError
	return errors.As(err, &we) && we.ApplicationError
}

// pollActivation fetches an activation record, retrying while the controller
// answers 404 (records are stored after the activation completes).
func (c *conn) pollActivation(ctx context.Context, id string, rec *whisk.Activation) error {
	wait := 20 * time.Millisecond
	for {
		*rec = whisk.Activation{}
		resp, err := do(ctx, c.activations, http.MethodGet, "activations/"+escapeName(id), nil, rec, false)
		if err == nil && rec.ActivationID != "" {
			return nil
		}
		// 404: not stored yet; a transport error is retried the same way (the deadline bounds both).
		if resp != nil && resp.StatusCode != http.StatusNotFound {
			return fmt.Errorf("get activation: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("record not available: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// job is one planned invocation.
type job struct {
	name     string
	warmup   bool
	intended time.Time // open loop: the time it was meant to be sent
}

// Run executes plan against target and returns every row collected. When ctx
// is cancelled (Ctrl-C) it stops, deletes any cold-start copies, and returns
// what it has together with the context's error.
func Run(ctx context.Context, target Target, plan Plan, progress Progress) (*Result, error) {
	if progress == nil {
		progress = NoProgress{}
	}
	if plan.Repeat < 1 {
		plan.Repeat = 1
	}
	if plan.Timeout <= 0 {
		plan.Timeout = 5 * time.Minute
	}
	if len(plan.Actions) == 0 || len(plan.Concurrency) == 0 {
		return nil, errors.New("run: plan needs at least one action and one concurrency level")
	}
	if plan.Rate > 0 && plan.Duration <= 0 {
		return nil, errors.New("run: open loop needs a positive duration")
	}
	c, err := newConn(target)
	if err != nil {
		return nil, err
	}
	res := &Result{Meta: Meta{Started: time.Now().UTC(), APIHost: target.APIHost, Namespace: target.Namespace, Plan: plan}}
	e := &engine{conn: c, plan: plan, progress: progress, res: res, sources: map[string]*whisk.Action{}}
	runErr := e.run(ctx)
	res.Meta.Finished = time.Now().UTC()
	if !plan.NoMemory && ctx.Err() == nil {
		mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		rep, err := FetchMemory(mctx, target, true)
		cancel()
		if err != nil {
			res.Meta.MemoryUnavailable = err.Error()
		} else {
			res.Meta.Memory = rep
		}
	}
	if ctx.Err() != nil {
		res.Meta.Interrupted = true
	}
	return res, runErr
}

type engine struct {
	conn     *conn
	plan     Plan
	progress Progress
	sources  map[string]*whisk.Action // -cold: action definitions to copy

	mu  sync.Mutex
	res *Result
}

func (e *engine) run(ctx context.Context) error {
	if e.plan.Cold {
		for _, a := range e.plan.Actions {
			src, err := e.conn.getAction(ctx, a)
			if err != nil {
				return fmt.Errorf("-cold needs the action definition to copy: %w", err)
			}
			e.sources[a] = src
		}
	}
	runID := randomHex(3)
	for r := 1; r <= e.plan.Repeat; r++ {
		for _, level := range e.plan.Concurrency {
			for _, action := range e.plan.Actions {
				if err := e.level(ctx, runID, action, level, r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// level measures one action at one concurrency level in one repeat.
func (e *engine) level(ctx context.Context, runID, action string, level, repeat int) error {
	n := e.plan.Count
	if n == 0 {
		n = level
	}
	if e.plan.Rate > 0 {
		n = int(e.plan.Rate * e.plan.Duration.Seconds())
		if n < 1 {
			n = 1
		}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = action
	}
	if e.plan.Cold {
		var err error
		names, err = e.makeCopies(ctx, runID, action, level, repeat, n)
		defer e.deleteCopies(ctx, names)
		if err != nil {
			return err
		}
	}
	if e.plan.Warmup > 0 && !e.plan.Cold {
		warm := make([]job, e.plan.Warmup)
		for i := range warm {
			warm[i] = job{name: action, warmup: true}
		}
		e.progress.Begin(fmt.Sprintf("%s c=%d r=%d warm-up", action, level, repeat), len(warm))
		err := e.closedLoop(ctx, action, level, repeat, warm)
		e.progress.End()
		if err != nil {
			return err
		}
	}
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{name: names[i]}
	}
	phase := fmt.Sprintf("%s c=%d r=%d", action, level, repeat)
	if e.plan.Cold {
		phase += " cold"
	}
	e.progress.Begin(phase, n)
	defer e.progress.End()
	started := time.Now()
	var err error
	if e.plan.Rate > 0 {
		err = e.openLoop(ctx, action, level, repeat, jobs)
	} else {
		err = e.closedLoop(ctx, action, level, repeat, jobs)
	}
	e.mu.Lock()
	e.res.Meta.Phases = append(e.res.Meta.Phases, Phase{Action: action, Concurrency: level, Repeat: repeat,
		Invocations: n, Seconds: time.Since(started).Seconds()})
	e.mu.Unlock()
	return err
}

// makeCopies creates n fresh copies of action so each invocation needs a new
// container; on failure it returns the copies made so far for deletion.
func (e *engine) makeCopies(ctx context.Context, runID, action string, level, repeat, n int) ([]string, error) {
	src := e.sources[action]
	var made []string
	e.progress.Begin(fmt.Sprintf("%s c=%d r=%d copies", action, level, repeat), n)
	defer e.progress.End()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-cold-%s-c%d-r%d-%d", action, runID, level, repeat, i)
		cp := &whisk.Action{
			Name:        name,
			Exec:        src.Exec,
			Parameters:  src.Parameters,
			Limits:      src.Limits,
			Annotations: src.Annotations,
		}
		if err := e.conn.putAction(ctx, cp); err != nil {
			return made, fmt.Errorf("-cold: copy %s: %w", action, err)
		}
		made = append(made, name)
		e.progress.Step(Row{Action: action, Invoked: name, Status: StatusSuccess})
	}
	return made, nil
}

// deleteCopies removes cold-start copies, also after Ctrl-C (with a fresh deadline).
func (e *engine) deleteCopies(ctx context.Context, names []string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, name := range names {
		if err := e.conn.deleteAction(dctx, name); err != nil {
			e.mu.Lock()
			e.res.Meta.CleanupErrors = append(e.res.Meta.CleanupErrors, err.Error())
			e.mu.Unlock()
		}
	}
}

// closedLoop runs jobs with `level` workers, each sending its next request as
// soon as the previous one is answered.
func (e *engine) closedLoop(ctx context.Context, action string, level, repeat int, jobs []job) error {
	queue := make(chan job, len(jobs))
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	g, gctx := errgroup.WithContext(ctx)
	for w := 0; w < level; w++ {
		g.Go(func() error {
			for j := range queue {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				e.one(gctx, action, level, repeat, j, time.Now())
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// openLoop sends jobs at plan.Rate per second whatever the answers, with at
// most `level` requests in flight and `level` more queued; a send that finds
// the queue full is dropped and counted. Latency counts from the intended
// send time, so queueing delay is not hidden (coordinated omission).
func (e *engine) openLoop(ctx context.Context, action string, level, repeat int, jobs []job) error {
	queue := make(chan job, level)
	g, gctx := errgroup.WithContext(ctx)
	for w := 0; w < level; w++ {
		g.Go(func() error {
			for j := range queue {
				if gctx.Err() != nil {
					continue // drain
				}
				e.one(gctx, action, level, repeat, j, j.intended)
			}
			return nil
		})
	}
	dropped := 0
	interval := time.Duration(float64(time.Second) / e.plan.Rate)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
pace:
	for i, j := range jobs {
		j.intended = start.Add(time.Duration(i) * interval)
		timer.Reset(time.Until(j.intended))
		select {
		case <-gctx.Done():
			break pace
		case <-timer.C:
		}
		select {
		case queue <- j:
		default:
			dropped++
			e.progress.Step(Row{Action: action, Status: "dropped"})
		}
	}
	close(queue)
	err := g.Wait()
	if dropped > 0 {
		e.mu.Lock()
		e.res.Meta.Dropped = append(e.res.Meta.Dropped, Dropped{Action: action, Concurrency: level, Repeat: repeat, Count: dropped})
		e.mu.Unlock()
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// one performs a single invocation and records its row, unless the run was
// interrupted while it was in flight.
func (e *engine) one(ctx context.Context, action string, level, repeat int, j job, sent time.Time) {
	ictx, cancel := context.WithTimeout(ctx, e.plan.Timeout)
	defer cancel()
	row := Row{Action: action, Invoked: j.name, Concurrency: level, Repeat: repeat, Warmup: j.warmup}
	err := e.conn.invoke(ictx, j.name, e.plan.Params, &row, e.plan.KeepResults)
	row.ClientLatency = float64(time.Since(sent).Microseconds()) / 1000
	if err != nil {
		if ctx.Err() != nil {
			return // cut short by Ctrl-C: not a measurement
		}
		row.Error = err.Error()
	}
	e.mu.Lock()
	e.res.Rows = append(e.res.Rows, row)
	e.mu.Unlock()
	e.progress.Step(row)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
