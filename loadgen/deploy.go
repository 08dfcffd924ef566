package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/apache/openwhisk-client-go/whisk"
)

// DeploySpec is an action to create (or replace) before a run, as given by
// `-deploy name=kind@source`: source is a file for code kinds, an image for
// blackbox.
type DeploySpec struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
	// MemoryMB is limits.memory; 0 leaves the platform default.
	MemoryMB int `json:"memoryMB,omitempty"`
}

// ParseDeploy parses "name=kind@source", e.g. "hello-wasm=wasm:0.1@build/actions/hello.wasm"
// or "mn=blackbox@wasmwhisk/mobilenet:latest". An optional ",memory=MB" suffix sets the memory limit.
func ParseDeploy(s string) (DeploySpec, error) {
	var d DeploySpec
	spec, opts, _ := strings.Cut(s, ",")
	name, rest, ok := strings.Cut(spec, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return d, usagef("-deploy %q: want name=kind@source (e.g. hello=wasm:0.1@hello.wasm or mn=blackbox@image:tag)", s)
	}
	kind, source, ok := strings.Cut(rest, "@")
	if !ok || kind == "" || source == "" {
		return d, usagef("-deploy %q: want name=kind@source (e.g. hello=wasm:0.1@hello.wasm or mn=blackbox@image:tag)", s)
	}
	d = DeploySpec{Name: strings.TrimSpace(name), Kind: strings.TrimSpace(kind), Source: strings.TrimSpace(source)}
	if opts != "" {
		v, ok := strings.CutPrefix(opts, "memory=")
		var mb int
		if _, err := fmt.Sscanf(v, "%d", &mb); !ok || err != nil || mb <= 0 || fmt.Sprint(mb) != v {
			return DeploySpec{}, usagef("-deploy %q: option %q: only memory=MB is known", s, opts)
		}
		d.MemoryMB = mb
	}
	return d, nil
}

// deployFlag collects repeated -deploy flags.
type deployFlag []DeploySpec

func (f *deployFlag) String() string {
	var parts []string
	for _, d := range *f {
		parts = append(parts, d.Name+"="+d.Kind+"@"+d.Source)
	}
	return strings.Join(parts, " ")
}

func (f *deployFlag) Set(s string) error {
	d, err := ParseDeploy(s)
	if err != nil {
		return err
	}
	*f = append(*f, d)
	return nil
}

// actionFor builds the action entity: blackbox gets the image; other kinds
// get the file as code, base64-encoded unless it is UTF-8 text (so wasm
// modules, executables and zips travel as binary, SPEC §4.7).
func actionFor(d DeploySpec) (*whisk.Action, error) {
	exec := &whisk.Exec{Kind: d.Kind}
	if d.Kind == "blackbox" {
		exec.Image = d.Source
	} else {
		data, err := os.ReadFile(d.Source)
		if err != nil {
			return nil, fmt.Errorf("deploy %s: %w", d.Name, err)
		}
		code := string(data)
		if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
			code = base64.StdEncoding.EncodeToString(data)
		}
		exec.Code = &code
	}
	a := &whisk.Action{Name: d.Name, Exec: exec}
	if d.MemoryMB > 0 {
		a.Limits = &whisk.Limits{Memory: &d.MemoryMB}
	}
	return a, nil
}

// DeployAll creates or replaces each action.
func DeployAll(ctx context.Context, target Target, specs []DeploySpec) error {
	c, err := newConn(target)
	if err != nil {
		return err
	}
	for _, d := range specs {
		a, err := actionFor(d)
		if err != nil {
			return err
		}
		if err := c.putAction(ctx, a); err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
	}
	return nil
}
