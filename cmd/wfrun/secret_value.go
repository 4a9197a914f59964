package main

import (
	"fmt"
	"unicode/utf8"
)

// checkText refuses a value that is not UTF-8 text: stored as a JSON
// string it would be altered (invalid bytes replaced), so it is either
// stored exactly with --binary or not at all. The error names the source
// and the offset, never the bytes.
func checkText(src string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	off := 0
	for off < len(data) {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	return fmt.Errorf("set: %s is not UTF-8 text (invalid byte at offset %d); a secret value is text or JSON: store the bytes exactly with --binary (kept as base64)", src, off)
}
