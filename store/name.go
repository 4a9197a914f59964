package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == ':' || c == '-'
}

// ValidateName checks that name is 1–255 bytes of [A-Za-z0-9_./:-].
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: name is %d bytes, the limit is %d", ErrInvalidName, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return fmt.Errorf("%w: %s has %s at byte %d; allowed are A-Z a-z 0-9 _ . / : -",
				ErrInvalidName, quoteName(name), describeByte(name, i), i)
		}
	}
	return nil
}

// quoteName quotes an invalid name for an error, truncated so a value pasted
// by mistake into the name field is not echoed whole.
func quoteName(name string) string {
	if len(name) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", name[:cut])
	}
	return fmt.Sprintf("%q", name)
}

func describeByte(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", s[i])
	}
	return fmt.Sprintf("%q", r)
}

func tagKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

// ValidateTags checks tag keys (1–128 bytes of [A-Za-z0-9_./-]) and values
// (at most 256 bytes of UTF-8 without control characters).
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: %d tags, the limit is %d", ErrInvalidValue, len(tags), MaxTags)
	}
	for k, v := range tags {
		if err := ValidateTagKey(k); err != nil {
			return err
		}
		if len(v) > MaxTagValueLen {
			return fmt.Errorf("%w: tag %q value is %d bytes, the limit is %d", ErrInvalidValue, k, len(v), MaxTagValueLen)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("%w: tag %q value is not UTF-8", ErrInvalidValue, k)
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				return fmt.Errorf("%w: tag %q value contains a control character", ErrInvalidValue, k)
			}
		}
	}
	return nil
}

// ValidateTagKey checks one tag key.
func ValidateTagKey(k string) error {
	if k == "" || len(k) > MaxTagKeyLen {
		return fmt.Errorf("%w: tag key must be 1-%d bytes", ErrInvalidValue, MaxTagKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if !tagKeyByte(k[i]) {
			return fmt.Errorf("%w: tag key %s has %s; allowed are A-Z a-z 0-9 _ . / -", ErrInvalidValue, quoteName(k), describeByte(k, i))
		}
	}
	return nil
}

// ValidateValue checks that v is one JSON value of at most MaxValueSize bytes.
// The error never quotes the value.
func ValidateValue(v json.RawMessage) error {
	if len(v) == 0 {
		return fmt.Errorf("%w: empty value (a string secret is a JSON string, e.g. \"abc\")", ErrInvalidValue)
	}
	if len(v) > MaxValueSize {
		return fmt.Errorf("%w: value is %d bytes, the limit is %d bytes (64 KiB)", ErrTooLarge, len(v), MaxValueSize)
	}
	if !json.Valid(v) {
		return fmt.Errorf("%w: value is not valid JSON", ErrInvalidValue)
	}
	return nil
}

// Validate checks everything a backend checks before a Put.
func (s *Secret) Validate() error {
	if s == nil {
		return fmt.Errorf("%w: nil secret", ErrInvalidValue)
	}
	if err := ValidateName(s.Name); err != nil {
		return err
	}
	if err := ValidateValue(s.Value); err != nil {
		return fmt.Errorf("secret %q: %w", s.Name, err)
	}
	if err := ValidateTags(s.Tags); err != nil {
		return fmt.Errorf("secret %q: %w", s.Name, err)
	}
	if len(s.Description) > MaxDescriptionLen {
		return fmt.Errorf("secret %q: %w: description is %d bytes, the limit is %d", s.Name, ErrInvalidValue, len(s.Description), MaxDescriptionLen)
	}
	if err := s.Scope.Validate(); err != nil {
		return fmt.Errorf("secret %q: %w", s.Name, err)
	}
	switch s.Encoding {
	case "":
	case EncodingBase64:
		var b64 string
		if json.Unmarshal(s.Value, &b64) != nil {
			return fmt.Errorf("secret %q: %w: a base64 value must be a JSON string", s.Name, ErrInvalidValue)
		}
		if _, err := base64.StdEncoding.DecodeString(b64); err != nil {
			return fmt.Errorf("secret %q: %w: the value is not standard base64", s.Name, ErrInvalidValue)
		}
	default:
		return fmt.Errorf("secret %q: %w: unknown encoding %q (want \"\" or %q)", s.Name, ErrInvalidValue, s.Encoding, EncodingBase64)
	}
	return nil
}
