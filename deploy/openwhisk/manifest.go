// Package openwhisk holds what registers wasmwhisk's kinds with a real Apache OpenWhisk: the
// runtimes manifest (runtimes.json: OpenWhisk's default plus wasm:0.1 and native:0.1), Helm
// values for openwhisk-deploy-kube and the standalone jar's config — and a parser that checks a
// manifest against the field rules OpenWhisk's ExecManifest applies (apache/openwhisk
// common/scala/src/main/scala/org/apache/openwhisk/core/entity/ExecManifest.scala), so that a
// broken manifest fails here rather than when a controller refuses to start.
package openwhisk

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// RuntimesJSON is deploy/openwhisk/runtimes.json: OpenWhisk's default manifest plus wasmwhisk's
// kinds and blackbox image.
//
//go:embed runtimes.json
var RuntimesJSON []byte

// Manifest is a runtimes manifest (the RUNTIMES_MANIFEST of controllers and invokers).
type Manifest struct {
	// Description is free text, ignored by OpenWhisk.
	Description []string `json:"description,omitempty"`
	// Runtimes maps a family ("nodejs", "wasm") to its kinds.
	Runtimes map[string][]Runtime `json:"runtimes"`
	// Blackboxes are images whose log sentinels are awaited and that are never pulled.
	Blackboxes []Image `json:"blackboxes,omitempty"`
}

// Runtime is one kind of a family.
type Runtime struct {
	// Kind is "<family>:<version>", the value of --kind and of exec.kind.
	Kind string `json:"kind"`
	// Image is the runtime image.
	Image Image `json:"image"`
	// Default marks the kind "<family>:default" resolves to.
	Default *bool `json:"default,omitempty"`
	// Deprecated kinds can be read and deleted but not created, updated or invoked.
	Deprecated *bool `json:"deprecated,omitempty"`
	// Attached stores the code as a database attachment of the given type.
	Attached *Attachment `json:"attached,omitempty"`
	// RequireMain makes exec.main mandatory.
	RequireMain *bool `json:"requireMain,omitempty"`
	// SentinelledLogs says whether the runtime prints the log sentinels (default true).
	SentinelledLogs *bool `json:"sentinelledLogs,omitempty"`
	// StemCells configure prewarmed containers.
	StemCells []StemCell `json:"stemCells,omitempty"`
}

// IsDefault reports the default flag (absent = false).
func (r Runtime) IsDefault() bool { return r.Default != nil && *r.Default }

// IsDeprecated reports the deprecated flag (absent = false).
func (r Runtime) IsDeprecated() bool { return r.Deprecated != nil && *r.Deprecated }

// Image names an image as [registry/][prefix/]name[:tag].
type Image struct {
	Registry string `json:"registry,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Name     string `json:"name"`
	Tag      string `json:"tag,omitempty"`
}

// Reference is the image reference the invoker resolves the fields to.
func (i Image) Reference() string {
	var b strings.Builder
	if i.Registry != "" {
		b.WriteString(strings.TrimSuffix(i.Registry, "/") + "/")
	}
	if i.Prefix != "" {
		b.WriteString(i.Prefix + "/")
	}
	b.WriteString(i.Name)
	if i.Tag != "" {
		b.WriteString(":" + i.Tag)
	}
	return b.String()
}

// Attachment is the "attached" object.
type Attachment struct {
	AttachmentName string `json:"attachmentName"`
	AttachmentType string `json:"attachmentType"`
}

// StemCell is one prewarm configuration.
type StemCell struct {
	// InitialCount is the number of containers to keep prewarmed ("count" is an alias).
	InitialCount int `json:"initialCount,omitempty"`
	// Count is the older name of InitialCount.
	Count int `json:"count,omitempty"`
	// Memory is a ByteSize string such as "256 MB"; only actions of exactly this memory use
	// these stem cells.
	Memory string `json:"memory"`
	// Reactive scales the count with recent cold starts.
	Reactive *Reactive `json:"reactive,omitempty"`
}

// Reactive is a stem cell's reactive prewarm configuration.
type Reactive struct {
	MinCount  int    `json:"minCount"`
	MaxCount  int    `json:"maxCount"`
	TTL       string `json:"ttl"`
	Threshold int    `json:"threshold"`
	Increment int    `json:"increment"`
}

var (
	familyName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	kindVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// Docker reference components (lower-case path components; tags of up to 128 characters).
	imagePath     = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	imageTag      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageRegistry = regexp.MustCompile(`^[A-Za-z0-9.-]+(?::[0-9]+)?/?$`)
	// OpenWhisk's ByteSize: a number and a unit, e.g. "256 MB", "256m", "1 GB".
	byteSize = regexp.MustCompile(`(?i)^[0-9]+\s*(b|k|kb|m|mb|g|gb)$`)
	// Scala's Duration strings, e.g. "2 minutes", "30 s", "1 h".
	duration = regexp.MustCompile(`^[0-9]+\s*(d|day|days|h|hour|hours|min|mins|minute|minutes|s|sec|secs|second|seconds|ms|milli|millis|millisecond|milliseconds|us|micro|micros|microsecond|microseconds|ns|nano|nanos|nanosecond|nanoseconds)$`)
)

// attachmentTypes are the content types OpenWhisk stores code attachments as.
var attachmentTypes = map[string]bool{
	"text/plain":               true,
	"application/octet-stream": true,
	"application/java-archive": true,
}

// reservedKinds are kinds OpenWhisk defines itself; a manifest must not redefine them.
var reservedKinds = map[string]bool{"blackbox": true, "sequence": true}

// ParseManifest decodes a manifest strictly (unknown fields are errors, as they would be silently
// ignored by OpenWhisk and usually mean a typo) and validates it with Validate.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("runtimes manifest: data after the JSON object")
	}
	// encoding/json matches field names case-insensitively; OpenWhisk does not, and would
	// silently ignore "stemcells" — so check the exact spelling of every key.
	if err := checkKeys(data); err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the field rules of OpenWhisk's ExecManifest and returns every violation.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(m.Runtimes) == 0 {
		bad("runtimes: no runtime family")
	}
	seen := map[string]string{}
	for family, kinds := range m.Runtimes {
		if !familyName.MatchString(family) {
			bad("family %q: not a valid family name", family)
		}
		if len(kinds) == 0 {
			bad("family %q: no kinds", family)
		}
		defaults := 0
		for i, r := range kinds {
			where := fmt.Sprintf("family %q kind #%d (%q)", family, i, r.Kind)
			fam, version, ok := strings.Cut(r.Kind, ":")
			switch {
			case r.Kind == "":
				bad("%s: kind is required", where)
			case reservedKinds[r.Kind]:
				bad("%s: %q is reserved by OpenWhisk", where, r.Kind)
			case ok && (fam != family || !kindVersion.MatchString(version)):
				bad("%s: kind must be %q followed by a version", where, family+":")
			case !ok && r.Kind != family:
				bad("%s: a kind without version must equal the family name", where)
			}
			if r.Kind != "" && strings.ToLower(r.Kind) != r.Kind {
				bad("%s: kinds are lower case (the controller lower-cases exec.kind)", where)
			}
			if prev, dup := seen[r.Kind]; dup && r.Kind != "" {
				bad("%s: kind also defined in family %q", where, prev)
			}
			seen[r.Kind] = family
			if err := r.Image.validate(); err != nil {
				bad("%s: %v", where, err)
			}
			if r.IsDefault() {
				defaults++
			}
			if a := r.Attached; a != nil {
				if a.AttachmentName == "" {
					bad("%s: attached.attachmentName is required", where)
				}
				if !attachmentTypes[a.AttachmentType] {
					bad("%s: attached.attachmentType %q is not one of text/plain, application/octet-stream, application/java-archive", where, a.AttachmentType)
				}
			}
			for j, sc := range r.StemCells {
				if err := sc.validate(); err != nil {
					bad("%s: stemCells[%d]: %v", where, j, err)
				}
			}
		}
		if len(kinds) > 1 && defaults != 1 {
			bad("family %q: %d kinds need exactly one default, found %d", family, len(kinds), defaults)
		}
		if len(kinds) == 1 && defaults > 1 {
			bad("family %q: more than one default", family)
		}
	}
	for i, b := range m.Blackboxes {
		if err := b.validate(); err != nil {
			bad("blackboxes[%d]: %v", i, err)
		}
	}
	return errors.Join(errs...)
}

func (i Image) validate() error {
	switch {
	case i.Name == "":
		return errors.New("image.name is required")
	case !imagePath.MatchString(i.Name):
		return fmt.Errorf("image.name %q is not a valid image name", i.Name)
	case i.Prefix != "" && !imagePath.MatchString(i.Prefix):
		return fmt.Errorf("image.prefix %q is not a valid image path", i.Prefix)
	case i.Tag != "" && !imageTag.MatchString(i.Tag):
		return fmt.Errorf("image.tag %q is not a valid tag", i.Tag)
	case i.Registry != "" && !imageRegistry.MatchString(i.Registry):
		return fmt.Errorf("image.registry %q is not a host[:port]", i.Registry)
	}
	return nil
}

func (sc StemCell) validate() error {
	n := sc.InitialCount
	if n == 0 {
		n = sc.Count
	}
	if sc.InitialCount != 0 && sc.Count != 0 {
		return errors.New("initialCount and its alias count are both set")
	}
	if n <= 0 {
		return errors.New("initialCount must be > 0")
	}
	if sc.Memory == "" {
		return errors.New("memory is required")
	}
	if !byteSize.MatchString(sc.Memory) {
		return fmt.Errorf("memory %q is not a size such as \"256 MB\"", sc.Memory)
	}
	if r := sc.Reactive; r != nil {
		switch {
		case r.MinCount < 0:
			return errors.New("reactive.minCount must be >= 0")
		case r.MaxCount <= 0:
			return errors.New("reactive.maxCount must be > 0")
		case r.MinCount > r.MaxCount:
			return errors.New("reactive.minCount exceeds maxCount")
		case !duration.MatchString(r.TTL):
			return fmt.Errorf("reactive.ttl %q is not a duration such as \"2 minutes\"", r.TTL)
		case r.Threshold <= 0:
			return errors.New("reactive.threshold must be > 0")
		case r.Increment <= 0 || r.Increment > r.MaxCount:
			return errors.New("reactive.increment must be > 0 and <= maxCount")
		}
	}
	return nil
}

// Kind returns the runtime of kind, resolving "<family>:default".
func (m *Manifest) Kind(kind string) (Runtime, bool) {
	if fam, v, ok := strings.Cut(kind, ":"); ok && v == "default" {
		kinds := m.Runtimes[fam]
		for _, r := range kinds {
			if r.IsDefault() || len(kinds) == 1 {
				return r, true
			}
		}
		return Runtime{}, false
	}
	for _, kinds := range m.Runtimes {
		for _, r := range kinds {
			if r.Kind == kind {
				return r, true
			}
		}
	}
	return Runtime{}, false
}

// Exact key sets of each manifest object.
var (
	manifestKeys   = []string{"description", "runtimes", "blackboxes"}
	runtimeKeys    = []string{"kind", "image", "default", "deprecated", "attached", "requireMain", "sentinelledLogs", "stemCells"}
	imageKeys      = []string{"registry", "prefix", "name", "tag"}
	attachmentKeys = []string{"attachmentName", "attachmentType"}
	stemCellKeys   = []string{"initialCount", "count", "memory", "reactive"}
	reactiveKeys   = []string{"minCount", "maxCount", "ttl", "threshold", "increment"}
)

// checkKeys walks the raw JSON (already known to decode into a Manifest) and reports any key not
// spelled exactly as OpenWhisk expects.
func checkKeys(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return err
	}
	if err := exactKeys("manifest", top, manifestKeys); err != nil {
		return err
	}
	var families map[string][]map[string]json.RawMessage
	if raw, ok := top["runtimes"]; ok {
		if err := json.Unmarshal(raw, &families); err != nil {
			return err
		}
	}
	for family, kinds := range families {
		for i, r := range kinds {
			where := fmt.Sprintf("family %q kind #%d", family, i)
			if err := exactKeys(where, r, runtimeKeys); err != nil {
				return err
			}
			if err := nestedKeys(where+" image", r["image"], imageKeys); err != nil {
				return err
			}
			if err := nestedKeys(where+" attached", r["attached"], attachmentKeys); err != nil {
				return err
			}
			var cells []map[string]json.RawMessage
			if raw, ok := r["stemCells"]; ok {
				if err := json.Unmarshal(raw, &cells); err != nil {
					return err
				}
			}
			for j, c := range cells {
				w := fmt.Sprintf("%s stemCells[%d]", where, j)
				if err := exactKeys(w, c, stemCellKeys); err != nil {
					return err
				}
				if err := nestedKeys(w+" reactive", c["reactive"], reactiveKeys); err != nil {
					return err
				}
			}
		}
	}
	var boxes []map[string]json.RawMessage
	if raw, ok := top["blackboxes"]; ok {
		if err := json.Unmarshal(raw, &boxes); err != nil {
			return err
		}
	}
	for i, b := range boxes {
		if err := exactKeys(fmt.Sprintf("blackboxes[%d]", i), b, imageKeys); err != nil {
			return err
		}
	}
	return nil
}

func nestedKeys(where string, raw json.RawMessage, allowed []string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	return exactKeys(where, obj, allowed)
}

func exactKeys(where string, obj map[string]json.RawMessage, allowed []string) error {
	for k := range obj {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("%s: unknown field %q (OpenWhisk field names are case-sensitive: %s)", where, k, strings.Join(allowed, ", "))
		}
	}
	return nil
}
