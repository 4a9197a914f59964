package eval

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzEval feeds arbitrary expressions to every evaluator: each must either
// succeed or return an *Error, and never panic or hang.
func FuzzEval(f *testing.F) {
	for _, s := range []string{
		"(function(){ return $.a + $.b; })()",
		"if ($.loop_ref['iteration'] < 5) { true; } else { false; }",
		"$.x == 'a' ? 'caseA' : 'other'",
		"a + b", "$['a']", "x", "JSON.parse('[1,2')", "throw 1", "((((", "`${1}`",
	} {
		f.Add(s)
	}
	evs := map[string]Evaluator{}
	for _, typ := range []string{TypeValueParam, TypeExpr, TypeJavaScript} {
		ev, err := New(typ, WithTimeout(100*time.Millisecond), WithMaxResultBytes(1<<16))
		if err != nil {
			f.Fatal(err)
		}
		evs[typ] = ev
	}
	input := map[string]any{"a": 1.0, "b": "two", "x": "a", "loop_ref": map[string]any{"iteration": 1.0}, "l": []any{1.0, nil}}
	f.Fuzz(func(t *testing.T, src string) {
		for typ, ev := range evs {
			p, err := ev.Compile(src)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%s compile %q: %T %v", typ, src, err, err)
				}
				continue
			}
			if _, err := p.Eval(context.Background(), input); err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%s eval %q: %T %v", typ, src, err, err)
				}
			}
		}
	})
}
