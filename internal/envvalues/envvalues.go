package envvalues

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
)

// ErrBadSpec: a configuration string that names no usable source.
var ErrBadSpec = errors.New("bad env values source")

// Parse returns the source spec names ("env:PREFIX" or "file:PATH"), with
// environ as the process environment (os.Environ when nil). An empty spec
// is no source (nil, nil).
func Parse(spec string, environ []string) (interpolate.MapValues, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil, nil
	case strings.HasPrefix(spec, "env:"):
		prefix := strings.TrimPrefix(spec, "env:")
		if prefix == "" {
			return nil, fmt.Errorf("%w %q: env: needs a variable prefix (e.g. env:CONDUCTOR_ENV_); the whole environment is never read", ErrBadSpec, spec)
		}
		if environ == nil {
			environ = os.Environ()
		}
		return FromEnviron(prefix, environ), nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, fmt.Errorf("%w %q: file: needs a path", ErrBadSpec, spec)
		}
		return FromFile(path)
	}
	return nil, fmt.Errorf("%w %q: want env:PREFIX or file:PATH", ErrBadSpec, spec)
}

// FromEnviron returns the variables of environ (KEY=VALUE) whose names
// start with prefix, under their names without it, each as a JSON string.
func FromEnviron(prefix string, environ []string) interpolate.MapValues {
	out := interpolate.MapValues{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			out[name], _ = json.Marshal(v)
		}
	}
	return out
}

// FromFile reads a JSON object of values. The error names the file, never
// its content.
func FromFile(path string) (interpolate.MapValues, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("env values: %w", err)
	}
	b = bytes.TrimSpace(b)
	var m map[string]json.RawMessage
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &m) != nil {
		return nil, fmt.Errorf("%w: %s: want a JSON object of NAME: value", ErrBadSpec, path)
	}
	return interpolate.MapValues(m), nil
}
