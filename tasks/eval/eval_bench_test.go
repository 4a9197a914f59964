package eval

import (
	"context"
	"testing"
)

// BenchmarkEval compares the evaluators on the same SWITCH-style condition,
// each compiled once, as the engine uses them.
func BenchmarkEval(b *testing.B) {
	input := map[string]any{"x": "a", "loop_ref": map[string]any{"iteration": 3.0}, "n": 4.0}
	cases := []struct{ typ, expr string }{
		{TypeValueParam, "x"},
		{TypeExpr, "$.x == 'a' ? 'caseA' : 'other'"},
		{TypeJavaScript, "$.x == 'a' ? 'caseA' : 'other'"},
		{TypeExpr, "loop_ref.iteration < 5"},
		{TypeJavaScript, "if ($.loop_ref['iteration'] < 5) { true; } else { false; }"},
	}
	for _, c := range cases {
		p, err := Compile(c.typ, c.expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.typ+"/"+c.expr, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := p.Eval(ctx, input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompileCached measures a cache hit, the cost the engine pays when
// the same expression is requested again.
func BenchmarkCompileCached(b *testing.B) {
	c := NewCache()
	if _, err := c.Compile(TypeJavaScript, "$.a + 1"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Compile(TypeJavaScript, "$.a + 1"); err != nil {
			b.Fatal(err)
		}
	}
}
