package engine

import (
	"testing"

	"github.com/wfrun/wfrun/masking"
)

// A declared JSON secret reaches the worker as its compact JSON, exactly:
// numbers keep every digit, characters are not re-escaped, keys keep their
// order. So a worker that echoes the text back has it masked whole by the
// run's masker (which registers a JSON secret's compact form), even when
// each field is too short to be masked alone.
func TestMetadataTextIsTheRegisteredForm(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`"plain-token"`, `plain-token`},
		{`"quote\"d"`, `quote"d`},
		{`{"pin": 12345678901234567891, "b": "x<y"}`, `{"pin":12345678901234567891,"b":"x<y"}`},
		{` [1.50, "&&"] `, `[1.50,"&&"]`},
		{`12345678901234567891`, `12345678901234567891`},
	} {
		got := metadataText([]byte(tc.raw))
		if got != tc.want {
			t.Errorf("metadataText(%s) = %s, want %s", tc.raw, got, tc.want)
		}
		m := masking.New(masking.WithLogger(nil))
		m.Register(tc.raw)
		if len(tc.raw) > 0 && tc.raw[0] == '"' {
			m = masking.New(masking.WithLogger(nil))
			m.Register(tc.want)
		}
		if masked := m.MaskString("echo " + got); masked != "echo ***" {
			t.Errorf("%s echoed: %q, want it masked whole", tc.raw, masked)
		}
	}
}
