package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// exprEvaluator compiles expr-lang programs against a plain map environment.
type exprEvaluator struct {
	cfg config
	// vms recycles expr virtual machines: a VM is not safe for concurrent
	// use but can be reused by one goroutine at a time, which saves its
	// stack allocations on hot SWITCH / DO_WHILE paths.
	vms *sync.Pool
}

func newExprEvaluator(cfg config) *exprEvaluator {
	return &exprEvaluator{cfg: cfg, vms: &sync.Pool{New: func() any { return new(vm.VM) }}}
}

type exprProgram struct {
	ev  *exprEvaluator
	prg *vm.Program
}

// dollarToEnv rewrites the identifier "$" into expr's "$env", the whole
// environment, so Conductor-style "$.key" reads the input object.
type dollarToEnv struct{}

func (dollarToEnv) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok && id.Value == "$" {
		ast.Patch(n, &ast.IdentifierNode{Value: "$env"})
	}
}

func (e *exprEvaluator) Compile(expression string) (p Program, err error) {
	if err := e.cfg.checkSize(TypeExpr, expression); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, e.cfg.recovered(TypeExpr, PhaseCompile, r)
		}
	}()
	prg, err := expr.Compile(expression,
		// A plain, empty map environment: strict typing of the known
		// shape (nothing with methods can be reached), while the input's
		// keys, known only at run time, read as nil when absent.
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(),
		expr.Patch(dollarToEnv{}),
		expr.MaxNodes(e.cfg.exprMaxNodes),
	)
	if err != nil {
		return nil, e.wrap(PhaseCompile, ErrCompile, err, expression)
	}
	return &exprProgram{ev: e, prg: prg}, nil
}

// wrap turns an expr-lang error into an *Error. src is the expression:
// expr-lang's snippet of the failing line has each TAB turned into a space,
// so a resolved value holding a TAB would no longer be the value a masker
// knows; the line is quoted from src as it is instead.
func (e *exprEvaluator) wrap(phase Phase, kind error, err error, src string) *Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if fe.Snippet != "" {
			msg += snippet(src, fe.Line, fe.Column, fe.Snippet)
		}
		return e.cfg.newError(TypeExpr, phase, kind, fe.Line, fe.Column+1, msg)
	}
	return e.cfg.newError(TypeExpr, phase, kind, 0, 0, err.Error())
}

func (p *exprProgram) Eval(ctx context.Context, input any) (out any, err error) {
	ev := p.ev
	if err := ctx.Err(); err != nil {
		return nil, ev.cfg.newError(TypeExpr, PhaseEval, ErrTimeout, 0, 0, err.Error())
	}
	env, ok := input.(map[string]any)
	if !ok {
		if input != nil {
			return nil, ev.cfg.newError(TypeExpr, PhaseEval, ErrEval, 0, 0,
				fmt.Sprintf("input must be a JSON object, got %T", input))
		}
		env = map[string]any{}
	}
	machine := ev.vms.Get().(*vm.VM)
	defer func() {
		if r := recover(); r != nil {
			// A VM that panicked may hold broken state: drop it.
			out, err = nil, ev.cfg.recovered(TypeExpr, PhaseEval, r)
			return
		}
		ev.vms.Put(machine)
	}()
	// expr programs terminate by construction and their allocations are
	// bounded by the memory budget, so no interrupt is needed.
	machine.MemoryBudget = ev.cfg.exprMemBudget
	res, err := machine.Run(p.prg, env)
	if err != nil {
		return nil, ev.wrap(PhaseEval, ErrEval, err, p.prg.Source().String())
	}
	out, err = normalize(res)
	if err != nil {
		return nil, ev.cfg.newError(TypeExpr, PhaseEval, ErrEval, 0, 0, err.Error())
	}
	return out, nil
}

// snippet is expr-lang's quote of line (1-based) of src with a caret under
// column (0-based, in runes), the line as it is (TABs kept); fallback, the
// library's own snippet, when src has no such line.
func snippet(src string, line, column int, fallback string) string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) {
		return fallback
	}
	return "\n | " + lines[line-1] + "\n | " + strings.Repeat(".", column) + "^"
}
