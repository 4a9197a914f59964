package server

import (
	"encoding/json"
	"testing"
)

// FuzzParseHawk: any Authorization header parses or is refused; nothing
// panics, and what parses has the four required fields.
func FuzzParseHawk(f *testing.F) {
	for _, s := range []string{
		`Hawk id="c", mac="bWFj", ts="1795299448", nonce="TCejlpJI"`,
		`Hawk id="c", mac="bWFj", ts="1", nonce="n", ext="e30=", hash="aA=="`,
		`Hawk id="c"`, `Hawk `, `Bearer x`, `Hawk id="a\"b", mac="m", ts="1", nonce="n"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, err := parseHawk(h)
		if err == nil && (got.id == "" || got.mac == "" || got.ts == "" || got.nonce == "") {
			t.Fatalf("parsed %q without a required field: %+v", h, got)
		}
	})
}

// FuzzOrkesValue: every PUT body becomes a JSON string value; a body that
// is one JSON string literal round-trips to its content, anything else to
// the body itself.
func FuzzOrkesValue(f *testing.F) {
	for _, s := range []string{`"v"`, `raw`, `{"a":1}`, `"unterminated`, ` "x" `, ``, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := orkesValue(body)
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatalf("orkesValue(%q) = %s: not a JSON string", body, v)
		}
		if valueText(v) != s {
			t.Fatalf("valueText disagrees for %q", body)
		}
	})
}
