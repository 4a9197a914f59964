package store

import (
	"bytes"
	"encoding/json"
)

// Bundle is a secret value of the Semaphore shape
// {"env_vars":[{"name","value"}],"files":[{"path","content"}]} that an EXEC
// task injects whole. File content is the file's text as a JSON string.
type Bundle struct {
	EnvVars []BundleEnvVar `json:"env_vars,omitempty"`
	Files   []BundleFile   `json:"files,omitempty"`
}

// BundleEnvVar is one environment variable of a bundle.
type BundleEnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// BundleFile is one file of a bundle.
type BundleFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// ParseBundle reports whether value is a bundle: an object with only the
// keys env_vars and files (at least one), every env var with a name and every
// file with a path.
func ParseBundle(value json.RawMessage) (*Bundle, bool) {
	v := bytes.TrimSpace(value)
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(v, &keys) != nil || len(keys) == 0 {
		return nil, false
	}
	for k := range keys {
		if k != "env_vars" && k != "files" {
			return nil, false
		}
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	var b Bundle
	if dec.Decode(&b) != nil {
		return nil, false
	}
	for _, e := range b.EnvVars {
		if e.Name == "" {
			return nil, false
		}
	}
	for _, f := range b.Files {
		if f.Path == "" {
			return nil, false
		}
	}
	return &b, true
}

// EnvNames returns the bundle's variable names (no values), for display.
func (b *Bundle) EnvNames() []string {
	out := make([]string, len(b.EnvVars))
	for i, e := range b.EnvVars {
		out[i] = e.Name
	}
	return out
}

// FilePaths returns the bundle's file paths (no contents), for display.
func (b *Bundle) FilePaths() []string {
	out := make([]string, len(b.Files))
	for i, f := range b.Files {
		out[i] = f.Path
	}
	return out
}
