package loadgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// UsageError is a bad command line; the command prints it with the usage text.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

// maxConcurrency bounds -concurrency so a typo cannot start millions of workers.
const maxConcurrency = 1000

// ParseConcurrency parses a list of concurrency levels: a range "1..5", a
// comma list "1,2,4,8", a single level "4", or a mix ("1..3,8"). Levels are
// whole numbers from 1 to 1000, kept in the order given, without duplicates.
func ParseConcurrency(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, usagef("-concurrency: empty; want a level (4), a list (1,2,4,8) or a range (1..5)")
	}
	var levels []int
	seen := map[int]bool{}
	add := func(n int) {
		if !seen[n] {
			seen[n] = true
			levels = append(levels, n)
		}
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if lo, hi, ok := strings.Cut(part, ".."); ok {
			a, err := parseLevel(lo, s)
			if err != nil {
				return nil, err
			}
			b, err := parseLevel(hi, s)
			if err != nil {
				return nil, err
			}
			if a > b {
				return nil, usagef("-concurrency %q: range %d..%d goes down; write %d..%d", s, a, b, b, a)
			}
			for n := a; n <= b; n++ {
				add(n)
			}
			continue
		}
		n, err := parseLevel(part, s)
		if err != nil {
			return nil, err
		}
		add(n)
	}
	return levels, nil
}

func parseLevel(v, whole string) (int, error) {
	v = strings.TrimSpace(v)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usagef("-concurrency %q: %q is not a whole number; want a level (4), a list (1,2,4,8) or a range (1..5)", whole, v)
	}
	if n < 1 || n > maxConcurrency {
		return 0, usagef("-concurrency %q: level %d out of range 1..%d", whole, n, maxConcurrency)
	}
	return n, nil
}

// ParseActions splits a comma list of action names ("a,b" or "pkg/a").
func ParseActions(s string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if strings.HasPrefix(n, "/") {
			return nil, usagef("-actions: %q: give names relative to the namespace (no leading /); use -namespace for another namespace", n)
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, usagef("-actions: no action given; want -actions name or -actions a,b")
	}
	return names, nil
}

// ParseParams reads the invocation parameters: a JSON object given inline or,
// with a leading @, the path of a file holding one. Empty means no parameters.
func ParseParams(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return map[string]any{}, nil
	}
	src := "-params"
	data := []byte(s)
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usagef("-params: read %s: %v", path, err)
		}
		src, data = "-params @"+path, b
	}
	var params map[string]any
	if err := json.Unmarshal(data, &params); err != nil {
		return nil, usagef("%s: not a JSON object: %v", src, err)
	}
	if params == nil {
		return nil, usagef("%s: not a JSON object (got null)", src)
	}
	return params, nil
}

// ParseRate parses an open-loop arrival rate: "R/s", "R/m" or a bare "R"
// (per second). The result is in requests per second and positive.
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	num, unit, _ := strings.Cut(s, "/")
	per := 1.0
	switch strings.TrimSpace(unit) {
	case "", "s":
	case "m":
		per = 60
	default:
		return 0, usagef("-rate %q: unit must be /s or /m", s)
	}
	r, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || r <= 0 || r != r {
		return 0, usagef("-rate %q: want a positive number of requests, e.g. 10/s", s)
	}
	return r / per, nil
}

// Wskprops holds the connection settings `wsk` keeps in ~/.wskprops.
type Wskprops struct {
	APIHost   string
	Auth      string
	Namespace string
}

// LoadWskprops reads the wsk property file: $WSK_CONFIG_FILE if set, else
// $HOME/.wskprops. A missing file gives empty settings, not an error.
func LoadWskprops(getenv func(string) string) (Wskprops, error) {
	path := getenv("WSK_CONFIG_FILE")
	if path == "" {
		home := getenv("HOME")
		if home == "" {
			return Wskprops{}, nil
		}
		path = filepath.Join(home, ".wskprops")
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Wskprops{}, nil
	}
	if err != nil {
		return Wskprops{}, fmt.Errorf("wskprops: %w", err)
	}
	defer f.Close()
	return parseWskprops(f, path)
}

func parseWskprops(r io.Reader, path string) (Wskprops, error) {
	var p Wskprops
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "APIHOST":
			p.APIHost = value
		case "AUTH":
			p.Auth = value
		case "NAMESPACE":
			p.Namespace = value
		}
	}
	if err := sc.Err(); err != nil {
		return Wskprops{}, fmt.Errorf("wskprops: read %s: %w", path, err)
	}
	return p, nil
}

// RunOptions is everything `loadgen run` needs, as parsed from its flags.
type RunOptions struct {
	Target Target
	Plan   Plan
	// OutDir receives raw.csv, raw.json, summary.md and the plots.
	OutDir string
	// Standalone starts (or reuses) the embedded OpenWhisk on 127.0.0.1:3233.
	Standalone bool
	// StandaloneBackend is the container backend of a standalone started by
	// loadgen: wasmhost (in-process wasm:0.1 and native:0.1), process or docker.
	StandaloneBackend string
	// ProxyBinary is the actionproxy executable for the process backend.
	ProxyBinary string
	// Deploy lists actions to create or replace before the run.
	Deploy []DeploySpec
}

// ParseRunFlags parses the arguments of `loadgen run`. getenv supplies
// WSK_CONFIG_FILE and HOME for the wsk defaults; now names the default output
// directory results/<timestamp>/. Usage problems come back as *UsageError;
// -h gives flag.ErrHelp.
func ParseRunFlags(args []string, output io.Writer, getenv func(string) string, now time.Time) (*RunOptions, error) {
	fs := flag.NewFlagSet("loadgen run", flag.ContinueOnError)
	fs.SetOutput(output)
	var (
		concurrency = fs.String("concurrency", "1", "concurrency levels: `N`, a list 1,2,4,8 or a range 1..5")
		count       = fs.Int("count", 0, "measured invocations per action, level and repeat (0: as many as the level, like the seeds)")
		repeat      = fs.Int("repeat", 1, "runs of each level")
		actions     = fs.String("actions", "", "comma list of actions to invoke and compare (required); web:NS/PKG/ACTION.EXT loads a web action by its URL")
		params      = fs.String("params", "", "invocation parameters: a JSON object, or @file")
		warmup      = fs.Int("warmup", 0, "invocations per level before measuring, excluded from statistics (not with -cold)")
		cold        = fs.Bool("cold", false, "force a cold start for every measured invocation (fresh copy of the action each time)")
		rate        = fs.String("rate", "", "open loop: send at `R/s` for -duration instead of back to back")
		duration    = fs.Duration("duration", 10*time.Second, "open loop: how long to send at -rate")
		timeout     = fs.Duration("timeout", 5*time.Minute, "give up on one activation (invoke plus polling) after this long")
		out         = fs.String("out", "", "output directory (default results/<timestamp>/)")
		apihost     = fs.String("apihost", "", "OpenWhisk API host, e.g. http://127.0.0.1:3233 (default from wskprops)")
		auth        = fs.String("auth", "", "API key uuid:key (default from wskprops)")
		namespace   = fs.String("namespace", "", "namespace (default from wskprops, else _)")
		insecure    = fs.Bool("insecure", false, "skip TLS certificate verification")
		standalone  = fs.Bool("standalone", false, "use the embedded standalone OpenWhisk on 127.0.0.1:3233 (started in-process if none is running)")
		backend     = fs.String("standalone-backend", "wasmhost", "backend of a standalone started by loadgen: wasmhost, process or docker")
		proxyBinary = fs.String("proxy-binary", "bin/actionproxy", "actionproxy executable for -standalone-backend process")
		deploy      deployFlag
	)
	fs.Var(&deploy, "deploy", "create or replace an action first: `name=kind@file` or name=blackbox@image, optional ,memory=MB (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		var ue *UsageError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, &UsageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments %q; flags go before nothing else", fs.Args())
	}
	o := &RunOptions{Standalone: *standalone, StandaloneBackend: *backend, ProxyBinary: *proxyBinary, Deploy: deploy}
	switch *backend {
	case "wasmhost", "process", "docker":
	default:
		return nil, usagef("-standalone-backend %q: want wasmhost, process or docker", *backend)
	}
	var err error
	if o.Plan.Concurrency, err = ParseConcurrency(*concurrency); err != nil {
		return nil, err
	}
	if o.Plan.Actions, err = ParseActions(*actions); err != nil {
		return nil, err
	}
	if o.Plan.Params, err = ParseParams(*params); err != nil {
		return nil, err
	}
	if *count < 0 {
		return nil, usagef("-count %d: must be 0 (as many as the level) or more", *count)
	}
	if *repeat < 1 {
		return nil, usagef("-repeat %d: must be at least 1", *repeat)
	}
	if *warmup < 0 {
		return nil, usagef("-warmup %d: must be 0 or more", *warmup)
	}
	if *cold && *warmup > 0 {
		return nil, usagef("-warmup with -cold: every measured invocation is a fresh copy, there is nothing to warm")
	}
	if *timeout <= 0 {
		return nil, usagef("-timeout %v: must be positive", *timeout)
	}
	o.Plan.Count, o.Plan.Repeat, o.Plan.Warmup, o.Plan.Cold, o.Plan.Timeout = *count, *repeat, *warmup, *cold, *timeout
	if *rate != "" {
		if o.Plan.Rate, err = ParseRate(*rate); err != nil {
			return nil, err
		}
		if *duration <= 0 {
			return nil, usagef("-duration %v: must be positive with -rate", *duration)
		}
		o.Plan.Duration = *duration
		if *count != 0 {
			return nil, usagef("-count with -rate: the open loop sends rate × duration requests")
		}
	}

	props, err := LoadWskprops(getenv)
	if err != nil {
		return nil, err
	}
	o.Target = Target{APIHost: props.APIHost, Auth: props.Auth, Namespace: props.Namespace, Insecure: *insecure}
	if *apihost != "" {
		o.Target.APIHost = *apihost
	}
	if *auth != "" {
		o.Target.Auth = *auth
	}
	if *namespace != "" {
		o.Target.Namespace = *namespace
	}
	if o.Standalone {
		if *apihost == "" {
			o.Target.APIHost = StandaloneAPIHost
		}
		if *auth == "" {
			o.Target.Auth = GuestAuth
		}
	}
	if o.Target.APIHost == "" {
		return nil, usagef("no API host: give -apihost, set APIHOST in ~/.wskprops (or $WSK_CONFIG_FILE), or use -standalone")
	}
	if o.Target.Auth == "" {
		return nil, usagef("no API key: give -auth uuid:key, set AUTH in ~/.wskprops (or $WSK_CONFIG_FILE), or use -standalone")
	}
	if o.Target.Namespace == "" {
		o.Target.Namespace = "_"
	}
	o.OutDir = *out
	if o.OutDir == "" {
		o.OutDir = filepath.Join("results", now.Format("20060102-150405"))
	}
	return o, nil
}

// StandaloneAPIHost is where the embedded standalone OpenWhisk listens.
const StandaloneAPIHost = "http://127.0.0.1:3233"

// GuestAuth is OpenWhisk's well-known development key of the guest namespace.
const GuestAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
