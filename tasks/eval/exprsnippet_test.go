package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/masking"
)

// expr-lang quotes the expression's line under its errors with each TAB
// turned into a space: a resolved value holding a TAB was no longer the
// registered value when it was masked, and showed in clear. The line is
// quoted as it is, so the masker finds the value.
func TestExprSnippetKeepsTabsForTheMasker(t *testing.T) {
	const value = "Zq8Xw7Vu6Ts5Rr4Q\tp3On2Ml1Kk0Jj9Hh8Gg7Ff6E"
	m := masking.New(masking.WithLogger(nil))
	m.RegisterAll(value)
	ev, err := New(TypeExpr, WithMasker(m.MaskString))
	if err != nil {
		t.Fatal(err)
	}
	compileErr := func(src string) error { _, err := ev.Compile(src); return err }
	evalErr := func(src string) error {
		p, err := ev.Compile(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		_, err = p.Eval(context.Background(), map[string]any{"n": 0})
		return err
	}
	for _, tc := range []struct {
		what string
		err  error
	}{
		{"compile error", compileErr("$.x == '" + value + "' && 1 + 'a'")},
		{"syntax error", compileErr("$.x == `" + value + "` && (")},
		{"evaluation error", evalErr("$.x == '" + value + "' || int($.x) > $.n")},
	} {
		if tc.err == nil {
			t.Fatalf("%s: no error", tc.what)
		}
		msg := tc.err.Error()
		if !strings.Contains(msg, "\n | ") || !strings.Contains(msg, "***") {
			t.Fatalf("%s: want the masked line quoted, got %q", tc.what, msg)
		}
		for _, form := range []string{value, strings.ReplaceAll(value, "\t", " ")} {
			for i := 0; i+4 <= len(form); i++ {
				if strings.Contains(msg, form[i:i+4]) {
					t.Fatalf("%s holds %q, a piece of the value:\n%s", tc.what, form[i:i+4], msg)
				}
			}
		}
	}
}
