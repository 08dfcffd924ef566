package wasinn

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// ModelExt is the file extension of the models a Catalog names.
const ModelExt = ".onnx"

// ModelName is the load_by_name name of a model file: its base name without ".onnx"
// ("models/mobilenetv2-1.0-224.onnx" is "mobilenetv2-1.0-224"); ok is false for other files.
func ModelName(file string) (name string, ok bool) {
	base := path.Base(filepath.ToSlash(file))
	if len(base) <= len(ModelExt) || !strings.EqualFold(base[len(base)-len(ModelExt):], ModelExt) {
		return "", false
	}
	return base[:len(base)-len(ModelExt)], true
}

// Catalog names compiled graphs for load_by_name: the models of an action archive, or of an
// operator's model directory. It holds a reference to each graph until Close. A model that did not
// compile is kept with its error, which load_by_name of its name reports. Names the catalog lacks
// are looked up in its parent.
type Catalog struct {
	parent *Catalog
	graphs map[string]namedGraph // read-only after OpenCatalog
	closed atomic.Bool
	once   sync.Once
}

type namedGraph struct {
	file string
	g    *Graph
	err  error
}

// OpenCatalog names the .onnx files among files (slash-separated paths relative to dir, as an
// archive extraction lists them) and compiles each, or shares it when the registry has its
// content. Two files with one name are an error. parent (may be nil) answers names the catalog
// lacks.
func (r *Registry) OpenCatalog(dir string, files []string, parent *Catalog) (*Catalog, error) {
	byName := map[string]string{}
	for _, f := range files {
		name, ok := ModelName(f)
		if !ok {
			continue
		}
		if other, dup := byName[name]; dup {
			a, b := other, f
			if b < a {
				a, b = b, a
			}
			return nil, fmt.Errorf("wasinn: %s and %s would both be the graph named %q", a, b, name)
		}
		byName[name] = f
	}
	c := &Catalog{parent: parent, graphs: make(map[string]namedGraph, len(byName))}
	for name, f := range byName {
		g, err := r.LoadFile(filepath.Join(dir, filepath.FromSlash(f)))
		c.graphs[name] = namedGraph{file: f, g: g, err: err}
	}
	return c, nil
}

// OpenDir is OpenCatalog for the .onnx files directly inside dir (an operator's model
// directory).
func (r *Registry) OpenDir(dir string, parent *Catalog) (*Catalog, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wasinn: model directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		if _, ok := ModelName(e.Name()); ok && (e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0) {
			files = append(files, e.Name())
		}
	}
	return r.OpenCatalog(dir, files, parent)
}

// Names lists the names the catalog answers, its parent's included, sorted.
func (c *Catalog) Names() []string {
	seen := map[string]bool{}
	for p := c; p != nil; p = p.parent {
		for n := range p.graphs {
			seen[n] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Failures describes the models of the catalog (not its parent's) that did not compile, one line
// each, sorted.
func (c *Catalog) Failures() []string {
	var out []string
	for name, ng := range c.graphs {
		if ng.err != nil {
			out = append(out, fmt.Sprintf("graph %q (%s): %v", name, ng.file, ng.err))
		}
	}
	sort.Strings(out)
	return out
}

// Graph returns the graph named name, without a new reference (the catalog holds one until
// Close); ok is false when no model has the name. err is the model's compile error.
func (c *Catalog) Graph(name string) (g *Graph, err error, ok bool) {
	for p := c; p != nil; p = p.parent {
		if p.closed.Load() {
			continue
		}
		if ng, found := p.graphs[name]; found {
			return ng.g, ng.err, true
		}
	}
	return nil, nil, false
}

// Close releases the catalog's graphs (not its parent's); it answers no name afterwards.
// Instances that loaded a graph keep their own reference. Close may run while an instance still
// looks names up (a run abandoned at its deadline).
func (c *Catalog) Close() {
	if c == nil {
		return
	}
	c.once.Do(func() {
		c.closed.Store(true)
		for _, ng := range c.graphs {
			if ng.g != nil {
				ng.g.Release()
			}
		}
	})
}
