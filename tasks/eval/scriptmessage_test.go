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

// A javascript or graaljs script stopped by its time limit reads as
// ScriptEvaluator's NonTransientException: "Script not evaluated within N
// seconds, interrupted.", N the limit in whole seconds. A script stopped
// because its context ended, another evaluator's limit: not that.
func TestInterruptedMessage(t *testing.T) {
	for _, typ := range []string{TypeJavaScript, TypeGraalJS} {
		ev, _ := New(typ, WithTimeout(time.Second))
		loop, _ := ev.Compile("while(true){}")
		_, err := loop.Eval(context.Background(), nil)
		if got, ok := InterruptedMessage(err); !ok || got != "Script not evaluated within 1 seconds, interrupted." {
			t.Fatalf("%s: %q %v (%v)", typ, got, ok, err)
		}
		if _, ok := ScriptMessage(err); ok {
			t.Fatalf("%s: a time limit read as a thrown error", typ)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	loop, _ := Compile(TypeJavaScript, "while(true){}")
	_, cerr := loop.Eval(ctx, nil)
	p, _ := Compile(TypeJavaScript, "throw 'x'")
	_, terr := p.Eval(context.Background(), nil)
	for _, err := range []error{cerr, terr, nil} {
		if got, ok := InterruptedMessage(err); ok {
			t.Fatalf("%v: %q", err, got)
		}
	}
}
