package runsecrets

import (
	"encoding/json"
	"strings"
	"testing"
)

// secretText's shortcut for strings without escapes gives what decoding the
// JSON string gives, and anything else still goes through the decoder.
func TestSecretTextMatchesDecoding(t *testing.T) {
	for _, raw := range []string{
		`"tok-9f8e"`, ` "tok" `, `""`, `"a\"b"`, `"a\\b"`, `"\u00e9t\u00e9"`, `"été"`, "\"bad\xffutf8\"",
		"\"tab\there\"", `"unterminated`, `"`, `{"user":"u","password":"p"}`, `12345`, `true`, ` plain `, `"a"b"`,
	} {
		want := strings.TrimSpace(raw)
		if len(want) > 0 && want[0] == '"' {
			var s string
			if json.Unmarshal([]byte(want), &s) == nil {
				want = s
			}
		}
		if got := secretText([]byte(raw)); got != want {
			t.Errorf("secretText(%q) = %q, want %q", raw, got, want)
		}
	}
}
