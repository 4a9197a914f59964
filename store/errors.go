package store

import "errors"

// Sentinel errors. Backends wrap them with the secret's name, never its value.
var (
	ErrNotFound     = errors.New("secret not found")
	ErrExpired      = errors.New("secret expired")
	ErrForbidden    = errors.New("forbidden")
	ErrConflict     = errors.New("version conflict")
	ErrInvalidName  = errors.New("invalid secret name")
	ErrReadOnly     = errors.New("read-only secret backend")
	ErrUnavailable  = errors.New("secret backend unavailable")
	ErrTooLarge     = errors.New("secret value too large")
	ErrInvalidValue = errors.New("invalid secret value")
	ErrInvalidScope = errors.New("invalid scope")
	ErrInvalidToken = errors.New("invalid continuation token")
	ErrUnsupported  = errors.New("not supported by this secret backend")
)
