package store

import (
	"fmt"
	"strings"
)

// Scope is where a secret lives: organization (zero value), project
// (Project set) or environment (Environment set; Project optional).
type Scope struct {
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// Level names a scope's level.
type Level string

// Scope levels, broadest first.
const (
	LevelOrganization Level = "organization"
	LevelProject      Level = "project"
	LevelEnvironment  Level = "environment"
)

// Level returns the scope's level.
func (s Scope) Level() Level {
	switch {
	case s.Environment != "":
		return LevelEnvironment
	case s.Project != "":
		return LevelProject
	default:
		return LevelOrganization
	}
}

// IsOrganization reports whether s is the organization scope.
func (s Scope) IsOrganization() bool { return s == Scope{} }

func (s Scope) String() string {
	switch s.Level() {
	case LevelEnvironment:
		if s.Project == "" {
			return "environment " + s.Environment
		}
		return "environment " + s.Project + "/" + s.Environment
	case LevelProject:
		return "project " + s.Project
	default:
		return "organization"
	}
}

func scopeIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

func validateIdent(what, v string) error {
	if len(v) > 64 {
		return fmt.Errorf("%w: %s is %d bytes, the limit is 64", ErrInvalidScope, what, len(v))
	}
	for i := 0; i < len(v); i++ {
		if !scopeIdentByte(v[i]) {
			return fmt.Errorf("%w: %s %s has %s; allowed are A-Z a-z 0-9 _ . -", ErrInvalidScope, what, quoteName(v), describeByte(v, i))
		}
	}
	return nil
}

// Validate checks the project and environment identifiers.
func (s Scope) Validate() error {
	if err := validateIdent("project", s.Project); err != nil {
		return err
	}
	return validateIdent("environment", s.Environment)
}

// Key is the scope's key-space identifier used by backends: "o", "p/P" or
// "e/P/E". It contains no ":" and identifiers contain no "/", so it is
// unambiguous.
func (s Scope) Key() string {
	switch s.Level() {
	case LevelEnvironment:
		return "e/" + s.Project + "/" + s.Environment
	case LevelProject:
		return "p/" + s.Project
	default:
		return "o"
	}
}

// ParseScopeKey is the inverse of Scope.Key.
func ParseScopeKey(k string) (Scope, error) {
	parts := strings.Split(k, "/")
	var s Scope
	switch {
	case k == "o":
	case len(parts) == 2 && parts[0] == "p" && parts[1] != "":
		s.Project = parts[1]
	case len(parts) == 3 && parts[0] == "e" && parts[2] != "":
		s.Project, s.Environment = parts[1], parts[2]
	default:
		return Scope{}, fmt.Errorf("%w: bad scope key %q", ErrInvalidScope, k)
	}
	return s, s.Validate()
}

// ResolutionOrder lists the scopes a run with project and environment reads,
// narrowest first, without duplicates: (P,E), ("",E), (P), organization.
func ResolutionOrder(project, environment string) []Scope {
	var out []Scope
	add := func(s Scope) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if environment != "" {
		add(Scope{Project: project, Environment: environment})
		add(Scope{Environment: environment})
	}
	if project != "" {
		add(Scope{Project: project})
	}
	add(Scope{})
	return out
}
