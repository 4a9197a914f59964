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

// credentialVariables are the variables (and prefixes of variables) that
// hold credentials: wfrun's master key, its store URL (a Redis URL may hold
// a password), its server keys, Vault's login and address (whose userinfo
// may hold a password), and the env secret stores' default prefixes
// (wfrun's, Conductor's, Prefect's).
var credentialVariables = []string{
	"WFRUN_MASTER_KEY", "WFRUN_STORE", "WFRUN_KEY_SECRET", "WFRUN_SECRET_",
	"CONDUCTOR_SECRET_", "PREFECT__CONTEXT__SECRETS__",
	"VAULT_TOKEN", "VAULT_SECRET_ID", "VAULT_ROLE_ID", "VAULT_ADDR",
}

// Parse returns the source spec names ("env:PREFIX" or "file:PATH"), with
// environ as the process environment (os.Environ when nil). An empty spec
// is no source (nil, nil).
//
// Env values are configuration: they are stored in task input in clear and
// any definition reads them without a secrets scope. So an env: prefix
// that would take in a credential variable is refused: one that starts one
// of credentialVariables or secretPrefixes (the prefixes of the env secret
// stores the caller configured), or that starts with a secret prefix.
func Parse(spec string, environ []string, secretPrefixes ...string) (interpolate.MapValues, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil, nil
	case strings.HasPrefix(spec, "env:"):
		prefix := strings.TrimPrefix(spec, "env:")
		if prefix == "" {
			return nil, fmt.Errorf("%w %q: env: needs a variable prefix (e.g. env:CONDUCTOR_ENV_); the whole environment is never read", ErrBadSpec, spec)
		}
		for _, c := range append(append([]string{}, credentialVariables...), secretPrefixes...) {
			if c == "" {
				continue
			}
			if strings.HasPrefix(c, prefix) || strings.HasPrefix(prefix, c) {
				return nil, fmt.Errorf("%w %q: the prefix would make %s variables (credentials) ${workflow.env.*} values, stored in clear; use a prefix of their own (e.g. env:CONDUCTOR_ENV_)", ErrBadSpec, spec, c)
			}
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
