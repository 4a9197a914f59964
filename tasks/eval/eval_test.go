package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

type evalCase struct {
	name  string
	typ   string
	expr  string
	input string
	want  any
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.typ+"/"+tc.name, func(t *testing.T) {
			ev, err := New(tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ev.Compile(tc.expr)
			if err != nil {
				t.Fatalf("compile %q: %v", tc.expr, err)
			}
			got, err := p.Eval(context.Background(), decode(t, tc.input))
			if err != nil {
				t.Fatalf("eval %q: %v", tc.expr, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("eval %q = %#v (%T), want %#v (%T)", tc.expr, got, got, tc.want, tc.want)
			}
		})
	}
}

func TestValueParam(t *testing.T) {
	runCases(t, []evalCase{
		{"string", TypeValueParam, "switchCaseValue", `{"switchCaseValue":"caseA"}`, "caseA"},
		{"number kept as decoded", TypeValueParam, "n", `{"n":3}`, 3.0},
		{"missing is nil", TypeValueParam, "nope", `{"n":3}`, nil},
		{"trimmed", TypeValueParam, "  n ", `{"n":true}`, true},
		{"object", TypeValueParam, "o", `{"o":{"a":[1]}}`, map[string]any{"a": []any{1.0}}},
	})
}

func TestExpr(t *testing.T) {
	runCases(t, []evalCase{
		{"top-level var", TypeExpr, "a + b", `{"a":1,"b":2}`, int64(3)},
		{"dollar member", TypeExpr, "$.a + $.b", `{"a":1,"b":2}`, int64(3)},
		{"dollar index", TypeExpr, "$['a'] * 2.5", `{"a":1}`, 2.5},
		{"ternary", TypeExpr, "$.x == 'a' ? 'caseA' : 'other'", `{"x":"a"}`, "caseA"},
		{"nested", TypeExpr, "loop_ref.iteration < 5", `{"loop_ref":{"iteration":3}}`, true},
		{"missing is nil", TypeExpr, "missing", `{}`, nil},
		{"optional chain", TypeExpr, "$.missing?.x ?? 'dflt'", `{}`, "dflt"},
		{"len and filter", TypeExpr, "len(filter($.items, # > 1))", `{"items":[1,2,3]}`, int64(2)},
		{"map literal", TypeExpr, "{'k': a, 'l': [1, 2.5]}", `{"a":"v"}`, map[string]any{"k": "v", "l": []any{int64(1), 2.5}}},
		{"whole input", TypeExpr, "$", `{"a":1}`, map[string]any{"a": int64(1)}},
		{"string funcs", TypeExpr, "upper(name) + '!'", `{"name":"bob"}`, "BOB!"},
	})
}

// Conductor's own expressions from reference/conductor.md §5.3 and the
// Orkes documentation, unmodified.
func TestJavaScript(t *testing.T) {
	cases := []evalCase{
		{"inline function", TypeJavaScript, "(function(){ return $.a + $.b; })()", `{"a":1,"b":2}`, int64(3)},
		{"loop condition statement", TypeJavaScript, "if ($.loop_ref['iteration'] < 5) { true; } else { false; }", `{"loop_ref":{"iteration":3}}`, true},
		{"loop condition false", TypeJavaScript, "if ($.loop_ref['iteration'] < 5) { true; } else { false; }", `{"loop_ref":{"iteration":5}}`, false},
		{"switch ternary", TypeGraalJS, "$.x == 'a' ? 'caseA' : 'other'", `{"x":"b"}`, "other"},
		{"http poll condition", TypeJavaScript, "(function(){ return $.output.response.body.randomInt > 10;})();", `{"output":{"response":{"body":{"randomInt":11}}}}`, true},
		{"json parse", TypeJavaScript, `JSON.parse('{"a":[1,2.5,"x"]}')`, `{}`, map[string]any{"a": []any{int64(1), 2.5, "x"}}},
		{"date type", TypeJavaScript, "typeof new Date().getTime()", `{}`, "number"},
		{"float", TypeJavaScript, "$.a / 4", `{"a":1}`, 0.25},
		{"integral float is int64", TypeJavaScript, "$.a * 2", `{"a":1.5}`, int64(3)},
		{"nan is nil", TypeJavaScript, "0/0", `{}`, nil},
		{"undefined is nil", TypeJavaScript, "$.nothing", `{}`, nil},
		{"var then expr", TypeJavaScript, "var s = 0; for (var i = 0; i < $.n; i++) { s += i; } s", `{"n":5}`, int64(10)},
		{"array methods on input", TypeJavaScript, "Array.isArray($.l) && $.l.map(function(x){return x*2;}).join(',')", `{"l":[1,2]}`, "2,4"},
		{"object result", TypeJavaScript, "({ok: true, n: $.l.length, d: new Date(0)})", `{"l":[1]}`, map[string]any{"ok": true, "n": int64(1), "d": "1970-01-01T00:00:00.000Z"}},
		{"function result is nil", TypeJavaScript, "(function(){})", `{}`, nil},
		{"proto key is data", TypeJavaScript, "Object.keys($).join(',') + ':' + typeof $.__proto__", `{"__proto__":{"x":1}}`, "__proto__:object"},
		{"scenario string concat", TypeJavaScript, "$.first + ' ' + $.last", `{"first":"Ada","last":"Lovelace"}`, "Ada Lovelace"},
		{"completion of if without else", TypeJavaScript, "if ($.x) { 'yes'; }", `{"x":true}`, "yes"},
	}
	runCases(t, cases)
}

func TestJavaScriptDoesNotMutateInput(t *testing.T) {
	in := map[string]any{"a": 1.0, "o": map[string]any{"k": "v"}}
	p, err := Compile(TypeJavaScript, "$.a = 99; $.o.k = 'changed'; delete $.o; $.a")
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Eval(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got != int64(99) {
		t.Fatalf("got %v", got)
	}
	if in["a"] != 1.0 || in["o"].(map[string]any)["k"] != "v" {
		t.Fatalf("input was mutated: %v", in)
	}
}

func TestJavaScriptIsolation(t *testing.T) {
	// A global left behind by one evaluation must not be visible to the next.
	p1, _ := Compile(TypeJavaScript, "leaked = $.secret; Object.prototype.leak = $.secret; 1")
	p2, _ := Compile(TypeJavaScript, "typeof leaked + ':' + typeof ({}).leak")
	if _, err := p1.Eval(context.Background(), map[string]any{"secret": "s3cr3t"}); err != nil {
		t.Fatal(err)
	}
	got, err := p2.Eval(context.Background(), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if got != "undefined:undefined" {
		t.Fatalf("state leaked between evaluations: %v", got)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, typ, expr, input string
		kind                   error
		phase                  Phase
		line, col              int
		contains               string
	}{
		{"js syntax", TypeJavaScript, "if ($.a { true }", `{}`, ErrCompile, PhaseCompile, 1, 9, "SyntaxError"},
		{"js syntax line 2", TypeJavaScript, "var a = 1;\nvar = 2;", `{}`, ErrCompile, PhaseCompile, 2, 5, "SyntaxError"},
		{"js throw", TypeJavaScript, "\n  null.x", `{}`, ErrEval, PhaseEval, 2, 0, "TypeError"},
		{"js thrown string", TypeJavaScript, "throw 'bad thing'", `{}`, ErrEval, PhaseEval, 1, 0, "bad thing"},
		{"js reference", TypeJavaScript, "nope + 1", `{}`, ErrEval, PhaseEval, 1, 0, "ReferenceError"},
		{"js recursion", TypeJavaScript, "(function f(){ return f() + 1; })()", `{}`, ErrTooLarge, PhaseEval, 0, 0, "call stack"},
		{"js cyclic result", TypeJavaScript, "var o = {}; o.o = o; o", `{}`, ErrEval, PhaseEval, 0, 0, "circular"},
		{"js blank", TypeJavaScript, "   ", `{}`, ErrCompile, PhaseCompile, 0, 0, "blank"},
		{"expr syntax", TypeExpr, "a +* b", `{}`, ErrCompile, PhaseCompile, 1, 4, "unexpected"},
		{"expr runtime", TypeExpr, "a.b.c", `{"a":1}`, ErrEval, PhaseEval, 1, 0, "cannot fetch"},
		{"expr non-object input", TypeExpr, "a", `[1]`, ErrEval, PhaseEval, 0, 0, "JSON object"},
		{"value-param non-object input", TypeValueParam, "a", `"str"`, ErrEval, PhaseEval, 0, 0, "JSON object"},
		{"value-param blank", TypeValueParam, "", `{}`, ErrCompile, PhaseCompile, 0, 0, "blank"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := New(tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ev.Compile(tc.expr)
			if err == nil {
				_, err = p.Eval(context.Background(), decode(t, tc.input))
			}
			if err == nil {
				t.Fatalf("%q: no error", tc.expr)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: error %T is not *Error: %v", tc.expr, err, err)
			}
			if !errors.Is(err, tc.kind) || e.Phase != tc.phase || e.Evaluator != tc.typ {
				t.Fatalf("%q: got %v (kind %v, phase %s, evaluator %s)", tc.expr, err, e.Kind, e.Phase, e.Evaluator)
			}
			if tc.line != 0 && e.Line != tc.line {
				t.Fatalf("%q: line %d, want %d (%v)", tc.expr, e.Line, tc.line, err)
			}
			if tc.col != 0 && e.Column != tc.col {
				t.Fatalf("%q: column %d, want %d (%v)", tc.expr, e.Column, tc.col, err)
			}
			if !strings.Contains(err.Error(), tc.contains) || !strings.HasPrefix(err.Error(), tc.typ+": ") {
				t.Fatalf("%q: error %q should start with the evaluator and contain %q", tc.expr, err, tc.contains)
			}
		})
	}
}

func TestUnknownEvaluator(t *testing.T) {
	for _, typ := range []string{"python", "", "JavaScript"} {
		_, err := New(typ)
		if !errors.Is(err, ErrUnknownEvaluator) || !strings.Contains(err.Error(), fmt.Sprintf("%q", typ)) {
			t.Fatalf("New(%q) = %v", typ, err)
		}
		if _, err := Compile(typ, "x"); !errors.Is(err, ErrUnknownEvaluator) {
			t.Fatalf("Compile(%q) = %v", typ, err)
		}
		if Known(typ) {
			t.Fatalf("Known(%q)", typ)
		}
	}
}

func TestTimeouts(t *testing.T) {
	loops := []string{"while (true) {}", "for (;;) { var x = 1; }", "(function f(){ while(1){} })()", "var s = 0; do { s++ } while (s > 0)"}
	t.Run("option", func(t *testing.T) {
		ev, _ := New(TypeJavaScript, WithTimeout(50*time.Millisecond))
		for _, src := range loops {
			p, err := ev.Compile(src)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = p.Eval(context.Background(), map[string]any{})
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("%q: %v", src, err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("%q: interrupted after %v", src, el)
			}
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		p, _ := Compile(TypeJavaScript, loops[0])
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err := p.Eval(ctx, map[string]any{})
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("context canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, typ := range []string{TypeJavaScript, TypeExpr, TypeValueParam} {
			p, _ := Compile(typ, "a")
			if _, err := p.Eval(ctx, map[string]any{"a": 1.0}); !errors.Is(err, ErrTimeout) {
				t.Fatalf("%s: %v", typ, err)
			}
		}
	})
	t.Run("toString loop in thrown value", func(t *testing.T) {
		ev, _ := New(TypeJavaScript, WithTimeout(50*time.Millisecond))
		p, _ := ev.Compile("throw { toString: function(){ while(true){} } }")
		_, err := p.Eval(context.Background(), map[string]any{})
		if err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("toJSON loop in result", func(t *testing.T) {
		ev, _ := New(TypeJavaScript, WithTimeout(50*time.Millisecond))
		p, _ := ev.Compile("({ toJSON: function(){ while(true){} } })")
		_, err := p.Eval(context.Background(), map[string]any{})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestSizeBounds(t *testing.T) {
	t.Run("expression", func(t *testing.T) {
		for _, typ := range []string{TypeJavaScript, TypeExpr, TypeValueParam} {
			ev, _ := New(typ, WithMaxExpressionBytes(10))
			if _, err := ev.Compile(strings.Repeat("a", 11)); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s: %v", typ, err)
			}
		}
	})
	t.Run("result", func(t *testing.T) {
		ev, _ := New(TypeJavaScript, WithMaxResultBytes(100))
		for _, src := range []string{"new Array(200).join('x')", "[new Array(200).join('x')]"} {
			p, _ := ev.Compile(src)
			if _, err := p.Eval(context.Background(), nil); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%q: %v", src, err)
			}
		}
	})
	t.Run("input", func(t *testing.T) {
		ev, _ := New(TypeJavaScript, WithMaxInputValues(10))
		p, _ := ev.Compile("$.l.length")
		l := make([]any, 20)
		if _, err := p.Eval(context.Background(), map[string]any{"l": l}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
		if got, err := p.Eval(context.Background(), map[string]any{"l": l[:3]}); err != nil || got != int64(3) {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("memory watchdog", func(t *testing.T) {
		ev, _ := New(TypeJavaScript, WithMemoryLimit(32<<20), WithTimeout(20*time.Second))
		p, _ := ev.Compile("var a = [], s = 'xy'; while (true) { a.push(s); if (s.length < (1 << 20)) { s = s + s; } else { s = s.slice(1) + a.length; } }")
		start := time.Now()
		_, err := p.Eval(context.Background(), nil)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "memory") {
			t.Fatalf("got %v after %v", err, time.Since(start))
		}
	})
	t.Run("expr memory budget", func(t *testing.T) {
		p, _ := Compile(TypeExpr, "map(1..100000000, # * 2)")
		if _, err := p.Eval(context.Background(), map[string]any{}); !errors.Is(err, ErrEval) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestMasker(t *testing.T) {
	mask := func(s string) string { return strings.ReplaceAll(s, "s3cr3t", "***") }
	for _, typ := range []string{TypeJavaScript, TypeExpr} {
		ev, _ := New(typ, WithMasker(mask))
		src := map[string]string{
			TypeJavaScript: "throw 'token=' + $.tok",
			TypeExpr:       "'s3cr3t' + 1 - x",
		}[typ]
		p, err := ev.Compile(src)
		if err == nil {
			_, err = p.Eval(context.Background(), map[string]any{"tok": "s3cr3t"})
		}
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "***") {
			t.Fatalf("%s: error not masked: %v", typ, err)
		}
	}
}

func TestCache(t *testing.T) {
	c := NewCache()
	var wg sync.WaitGroup
	progs := make([]Program, 16)
	for i := range progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := c.Compile(TypeJavaScript, "$.a + 1")
			if err != nil {
				t.Error(err)
				return
			}
			progs[i] = p
			if got, err := p.Eval(context.Background(), map[string]any{"a": float64(i)}); err != nil || got != int64(i+1) {
				t.Errorf("got %v %v", got, err)
			}
		}()
	}
	wg.Wait()
	p, _ := c.Compile(TypeJavaScript, "$.a + 1")
	for _, q := range progs {
		if q != p {
			t.Fatal("the same expression compiled to different programs")
		}
	}
	if c.Len() != 1 {
		t.Fatalf("len %d", c.Len())
	}
	if _, err := c.Compile(TypeJavaScript, "((("); err == nil || c.Len() != 1 {
		t.Fatalf("bad expression: err %v, len %d", err, c.Len())
	}
	if _, err := c.Compile("python", "1"); !errors.Is(err, ErrUnknownEvaluator) {
		t.Fatal(err)
	}
}

func TestConcurrentEval(t *testing.T) {
	for _, typ := range []string{TypeJavaScript, TypeExpr} {
		p, err := Compile(typ, "$.a * 2")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 50; j++ {
					got, err := p.Eval(context.Background(), map[string]any{"a": float64(i)})
					if err != nil || got != int64(2*i) {
						t.Errorf("%s: got %v %v", typ, got, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

// Conductor's examples call console.log in loop conditions; it must work
// and print nothing.
func TestJavaScriptConsoleIsSilent(t *testing.T) {
	p, err := New(TypeJavaScript)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := p.Compile(`console.log("value", $.x); console.error($.x); $.x + 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := prog.Eval(context.Background(), map[string]any{"x": 1})
	if err != nil {
		t.Fatal(err)
	}
	if got != int64(2) {
		t.Fatalf("got %#v, want 2", got)
	}
}
