package tasks

import (
	"strconv"

	"github.com/itchyny/gojq"
)

// jackson-jq 0.0.13 evaluates an arithmetic or comparison operator's left
// side first and, for each of its values, the right side
// (tree/binaryop/SimpleBinaryOperatorExpression.java); jq and gojq take the
// right side first. The order decides the order of a query's results
// ([(1,2) + (10,20)] is [11,21,12,22] in Conductor, [11,12,21,22] in jq)
// and which of two failing sides names the reason. leftFirst rewrites
// each such `A op B` of q into `A as $l | B as $r | $l op $r`, which gojq
// runs in jackson-jq's order; "and", "or", "//" and the assignments keep
// their own order, the same in both.

// jqLeftFirstOps are the operators jackson-jq runs left side first.
var jqLeftFirstOps = map[gojq.Operator]bool{
	gojq.OpAdd: true, gojq.OpSub: true, gojq.OpMul: true, gojq.OpDiv: true, gojq.OpMod: true,
	gojq.OpEq: true, gojq.OpNe: true, gojq.OpGt: true, gojq.OpLt: true, gojq.OpGe: true, gojq.OpLe: true,
}

// jqSideVar names the variables leftFirst binds; a query cannot write
// them ("$__wfrun" is not a name the query's own bindings can shadow
// unless it spells it, which gains it nothing).
const jqSideVar = "$__wfrun_side"

// jqOneValue reports whether x is one value that cannot fail (a literal,
// ".", a variable): with such a side the order changes nothing, and the
// query keeps gojq's own, quicker form (.n > 5, .n % 2 == 0).
func jqOneValue(x *gojq.Query) bool {
	if x == nil || x.Term == nil || len(x.FuncDefs) > 0 || len(x.Term.SuffixList) > 0 {
		return false
	}
	switch t := x.Term; t.Type {
	case gojq.TermTypeNumber, gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeIdentity:
		return true
	case gojq.TermTypeString:
		return t.Str != nil && len(t.Str.Queries) == 0 && t.Format == ""
	case gojq.TermTypeFunc:
		return len(t.Func.Name) > 1 && t.Func.Name[0] == '$' && len(t.Func.Args) == 0
	}
	return false
}

func leftFirst(q *gojq.Query) {
	n := 0
	isVar := func(x *gojq.Query) bool {
		return x != nil && x.Term != nil && x.Term.Type == gojq.TermTypeFunc && len(x.Term.SuffixList) == 0 &&
			len(x.Term.Func.Name) > len(jqSideVar) && x.Term.Func.Name[:len(jqSideVar)] == jqSideVar
	}
	variable := func(name string) *gojq.Query {
		return &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name}}}
	}
	walkJQ(q, func(x *gojq.Query) {
		if !jqLeftFirstOps[x.Op] || x.Left == nil || x.Right == nil || isVar(x.Left) && isVar(x.Right) ||
			jqOneValue(x.Left) || jqOneValue(x.Right) {
			return
		}
		n++
		l, r := jqSideVar+strconv.Itoa(n)+"l", jqSideVar+strconv.Itoa(n)+"r"
		apply := &gojq.Query{Left: variable(l), Op: x.Op, Right: variable(r)}
		inner := &gojq.Query{Left: x.Right, Op: gojq.OpPipe, Patterns: []*gojq.Pattern{{Name: r}}, Right: apply}
		*x = gojq.Query{FuncDefs: x.FuncDefs, Left: x.Left, Op: gojq.OpPipe, Patterns: []*gojq.Pattern{{Name: l}}, Right: inner}
	}, nil)
}

// jackson-jq's failure to negate a value that is not a number shows the
// input of the negation, not the value (tree/NegativeExpression.java):
// -.a on {"a":"x"} fails with `object ({"a":"x"}) cannot be negated`.
// negateWithInput rewrites each -X of q into a call that negates as gojq
// does and, on failure, keeps that input for the reason.
const jqNegateFunc = "_wfrun_negate"

func negateWithInput(q *gojq.Query) {
	walkJQ(q, nil, func(t *gojq.Term) {
		if t.Type != gojq.TermTypeUnary || t.Unary.Op != gojq.OpSub {
			return
		}
		arg := &gojq.Query{Term: t.Unary.Term}
		*t = gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqNegateFunc, Args: []*gojq.Query{arg}}, SuffixList: t.SuffixList}
	})
}

// jqNegateError is a negation of a value that is not a number: the
// negation's input and the value.
type jqNegateError struct{ in, v any }

// Error is what a try/catch in the query reads: gojq's message without
// its preview of the value, which would be a cut of unmasked text (the
// failure reason's preview is built masked, jqPreview).
func (e *jqNegateError) Error() string {
	return "cannot negate: " + jqTypeOf(e.v)
}

var jqNegate = mustCompileJQ("-.")

func jqNegateAt(in any, args []any) any {
	// tree/NegativeExpression.java: asNumericNode(-asDouble()), so a
	// large integer comes back through a double.
	if f, ok := javaAsDouble(args[0]); ok {
		return javaNumeric(-f)
	}
	v, _ := jqNegate.Run(args[0]).Next()
	if _, failed := v.(error); failed {
		return &jqNegateError{in: in, v: args[0]}
	}
	return v
}
