package eval_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/tasks/eval"
)

func ExampleCompile() {
	// A DO_WHILE loopCondition as Conductor writes it.
	p, err := eval.Compile("javascript", "if ($.loop_ref['iteration'] < 5) { true; } else { false; }")
	if err != nil {
		panic(err)
	}
	out, err := p.Eval(context.Background(), map[string]any{
		"loop_ref": map[string]any{"iteration": 2.0},
	})
	fmt.Println(out, err)
	// Output: true <nil>
}

func ExampleNew_expr() {
	ev, _ := eval.New("expr")
	p, _ := ev.Compile("$.a + b")
	out, _ := p.Eval(context.Background(), map[string]any{"a": 1.0, "b": 2.0})
	fmt.Printf("%v %T\n", out, out)
	// Output: 3 int64
}

func ExampleNew_unknown() {
	_, err := eval.New("python")
	fmt.Println(errors.Is(err, eval.ErrUnknownEvaluator))
	fmt.Println(err)
	// Output:
	// true
	// python: compile: unknown evaluator type "python" (want value-param, expr, javascript or graaljs)
}

func ExampleError() {
	_, err := eval.Compile("javascript", "if ($.a { true }")
	fmt.Println(err)
	// Output: javascript: compile at 1:9: SyntaxError: Unexpected token {
}

func ExampleLazy() {
	// A loop's output with every iteration: a JavaScript condition converts
	// only the members it reads ("iteration" and "3" here).
	loop := eval.Lazy{"iteration": 3.0}
	for i := 1; i <= 3; i++ {
		loop[fmt.Sprint(i)] = map[string]any{"step": map[string]any{"n": float64(i * 10)}}
	}
	p, _ := eval.Compile("javascript", "$.loop[String($.loop['iteration'])].step.n < 100")
	out, err := p.Eval(context.Background(), map[string]any{"loop": loop})
	fmt.Println(out, err)
	// Output: true <nil>
}
