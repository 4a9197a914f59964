package interpolate

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package is an *Error; these are reachable
// through it with errors.Is.
var (
	// ErrSyntax marks a compile-time problem in an expression (unterminated, bad path, ...).
	ErrSyntax = errors.New("expression syntax error")
	// ErrSecretNotFound is what a SecretSource wraps when a name does not exist.
	ErrSecretNotFound = errors.New("secret not found")
	// ErrNoSecretSource is returned when a template references a secret but the Env has no
	// SecretSource: a secret is never silently replaced by "".
	ErrNoSecretSource = errors.New("no secret source configured")
	// ErrDynamicSecret rejects a secret reference whose name or root is computed at run time,
	// and a secret used inside another expression's path: a secret value must never become
	// part of a path (it would be looked up, echoed in errors, or select data by its value).
	ErrDynamicSecret = errors.New("secret reference must be static")
	// ErrSecretValue is returned when a secret's value is not valid JSON or a field path into
	// it does not exist.
	ErrSecretValue = errors.New("bad secret value")
	// ErrBadDocument is returned when the Env hands out a document that is not valid JSON.
	ErrBadDocument = errors.New("bad document from environment")
)

// Error is the one error type of the package. It locates the problem: Location is the JSON
// Pointer of the string holding the expression (with the WithLocation prefix), Offset the byte
// offset of the expression inside the decoded string (-1 when not applicable). Secret names the
// secret involved, if any; the secret's value never appears in an Error.
type Error struct {
	Location string
	Offset   int
	Secret   string
	Msg      string
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Location != "" {
		b.WriteString(e.Location)
		b.WriteString(": ")
	}
	if e.Secret != "" {
		b.WriteString("secret ")
		b.WriteString(strconv.Quote(e.Secret))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Offset >= 0 {
		b.WriteString(" at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	if e.Err != nil && e.Err != ErrSyntax {
		msg := e.Err.Error()
		if e.Secret != "" {
			// Stores name the secret too (`secret "x": secret not found`):
			// say it once.
			msg = strings.TrimPrefix(msg, "secret "+strconv.Quote(e.Secret)+": ")
		}
		if msg != e.Msg {
			b.WriteString(": ")
			b.WriteString(msg)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
