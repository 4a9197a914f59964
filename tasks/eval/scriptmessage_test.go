package eval

import (
	"context"
	"testing"
	"time"
)

// ScriptMessage words a script's runtime error as Conductor's
// ScriptEvaluator.handlePolyglotException does; other errors keep theirs.
func TestScriptMessage(t *testing.T) {
	in := decode(t, `{"a":{}}`)
	for _, c := range []struct{ typ, expr, want string }{
		{TypeJavaScript, "$.a.b.c", "Error evaluating the script `TypeError: Cannot read property 'c' of undefined` at line 1"},
		{TypeGraalJS, "1;\nthrow new Error('boom')", "Error evaluating the script `Error: boom` at line 2"},
	} {
		p, err := Compile(c.typ, c.expr)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Eval(context.Background(), in)
		if got, ok := ScriptMessage(err); !ok || got != c.want {
			t.Fatalf("%s %q: %q %v, want %q", c.typ, c.expr, got, ok, c.want)
		}
	}
	// Not a script's runtime error: a compile error, another evaluator, a
	// time limit, no error.
	_, cerr := Compile(TypeJavaScript, "$.a ===")
	p, _ := Compile(TypeExpr, "a.b.c + 1")
	_, xerr := p.Eval(context.Background(), decode(t, `{"a":null}`))
	ev, _ := New(TypeJavaScript, WithTimeout(time.Millisecond))
	loop, _ := ev.Compile("while(true){}")
	_, terr := loop.Eval(context.Background(), in)
	if cerr == nil || xerr == nil || terr == nil {
		t.Fatalf("errors %v, %v, %v", cerr, xerr, terr)
	}
	for _, err := range []error{cerr, xerr, terr, nil} {
		if got, ok := ScriptMessage(err); ok {
			t.Fatalf("%v: %q", err, got)
		}
	}
}
