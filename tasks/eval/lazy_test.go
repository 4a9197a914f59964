package eval

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"
)

// lazyInput is {"l": Lazy{"1": {...}, ..., "n": {...}, "iteration": n}}.
func lazyInput(n int) map[string]any {
	l := Lazy{"iteration": int64(n)}
	for i := 1; i <= n; i++ {
		l[strconv.Itoa(i)] = map[string]any{"step": map[string]any{"x": int64(i), "tags": []any{"a", "b"}}}
	}
	m := Lazy{"iteration": int64(1)}
	for i := 12; i >= 1; i-- {
		m[strconv.Itoa(i)] = int64(1)
	}
	return map[string]any{"l": l, "m": m, "top": "t"}
}

// A Lazy input reads like the plain object it holds, in every evaluator.
func TestLazyInputReadsLikeAnObject(t *testing.T) {
	cases := []struct {
		typ, expr string
		want      any
	}{
		{TypeJavaScript, `$.l['2'].step.x + $.l.iteration`, int64(5)},
		{TypeGraalJS, `$.l.get('3').step.tags.size() + ($.l.containsKey('9') ? 100 : 0)`, int64(2)},
		{TypeJavaScript, `Object.keys($.l).join(',')`, "1,2,3,iteration"},
		{TypeJavaScript, `JSON.stringify($.l['1'].step.tags) + JSON.stringify($.l).length`, `["a","b"]` + "129"},
		{TypeJavaScript, `$.l['1'].step.x = 7; delete $.l['2']; $.l.n = 1; [$.l['1'].step.x, '2' in $.l, $.l.n, Object.keys($.l).length].join()`, "7,false,1,4"},
		{TypeJavaScript, `$.l.size() + ($.l.get('nope') === null ? 10 : 0)`, int64(14)},
		{TypeJavaScript, `$.l['4'] === undefined`, true},
		{TypeJavaScript, `var o = {}; for (var i = 1; i <= 12; i++) { o[String(i)] = 1; } o.iteration = 1; Object.keys(o).join() == Object.keys($.m).join()`, true},
		{TypeExpr, `$.l['2'].step.x + $.l.iteration`, int64(5)},
		{TypeValueParam, `top`, "t"},
	}
	for _, c := range cases {
		ev, err := New(c.typ)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ev.Compile(c.expr)
		if err != nil {
			t.Fatalf("%s %s: %v", c.typ, c.expr, err)
		}
		in := lazyInput(3)
		got, err := p.Eval(context.Background(), in)
		if err != nil {
			t.Fatalf("%s %s: %v", c.typ, c.expr, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s = %#v, want %#v", c.typ, c.expr, got, c.want)
		}
		if !reflect.DeepEqual(in, lazyInput(3)) {
			t.Errorf("%s %s changed its input", c.typ, c.expr)
		}
	}
	// The whole Lazy as a result is its data.
	ev, _ := New(TypeJavaScript)
	p, _ := ev.Compile(`$.l`)
	got, err := p.Eval(context.Background(), map[string]any{"l": Lazy{"a": int64(1)}})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"a": int64(1)}) {
		t.Fatalf("%#v %v", got, err)
	}
}

// Only the members a script reads are converted: with an input-size limit
// far below the Lazy's size, a script reading one member runs and one
// reading them all is refused.
func TestLazyInputConvertsOnlyWhatIsRead(t *testing.T) {
	ev, err := New(TypeJavaScript, WithMaxInputValues(50))
	if err != nil {
		t.Fatal(err)
	}
	one, _ := ev.Compile(`$.l['999'].step.x`)
	got, err := one.Eval(context.Background(), lazyInput(1000))
	if err != nil || got != int64(999) {
		t.Fatalf("one member: %v %v", got, err)
	}
	all, _ := ev.Compile(`JSON.stringify($.l).length`)
	if _, err := all.Eval(context.Background(), lazyInput(1000)); err == nil {
		t.Fatal("every member read under a 50-value limit")
	} else if !errors.Is(err, ErrEval) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error kind: %v", err)
	}
}
