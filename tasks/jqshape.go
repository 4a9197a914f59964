package tasks

import (
	"slices"
	"unicode/utf16"
)

// jackson-jq builds some queries into another tree than gojq does from the
// same text, and accepts some gojq does not parse at all. jacksonShape
// puts the parentheses in that make gojq build jackson-jq's tree
// (json-query.jj, tree/binaryop/BinaryOperatorExpression.java):
//
//   - a chain of binary operators is grouped by jackson-jq's precedence
//     and associativity, which are not jq's: the assignments (=, |=, +=,
//     ...) bind loosest and to the right, then // (to the left), then and
//     and or together (to the left: "true or false and false" is false),
//     then the comparisons (to the left: "1 == 2 == 3" is (1 == 2) == 3,
//     which gojq does not parse), then + -, then * / %;
//   - function definitions before an operand or an object value
//     ("1 + def f: 2; f", "{a: def f: 1; f}") are parenthesised with
//     their primary, and an object value that binds a variable or
//     defines a function is parenthesised whole;
//   - try's body is a whole query ("try error(\"x\"), 1" tries both), a
//     try ... catch in a chain of operators ends at catch's primary;
//   - a pipeline item that is bound by "as" is bound whole.

// jjInsert is text put into the query at UTF-16 offset at.
type jjInsert struct {
	at   int
	text string
}

// jjOperand is a PrimaryExpression the parser read: tokens first to
// last, its definitions (if any) before token core.
type jjOperand struct {
	first, core, last int
	catch             bool
}

// jjPrecedence is jackson-jq's precedence of a binary operator (the
// lower, the tighter) and whether it groups to the right.
func jjPrecedence(k jjKind) (prec int, right bool) {
	switch k {
	case jjAssign, jjUpdate, jjDefaultEq, jjPlusEq, jjMinusEq, jjTimesEq, jjDivideEq, jjModuloEq:
		return 6, true
	case jjDefault:
		return 5, false
	case jjOr, jjAnd:
		return 4, false
	case jjLe, jjLt, jjGe, jjGt, jjEq, jjNe:
		return 3, false
	case jjPlus, jjMinus:
		return 2, false
	}
	return 1, false // * / %
}

// wrap parenthesises tokens first to last.
func (p *jjParser) wrap(first, last int) {
	if first > last {
		return
	}
	p.inserts = append(p.inserts, jjInsert{p.tokens[first].start, "("}, jjInsert{p.tokens[last].end, ")"})
}

// wrapDefs parenthesises a primary that has definitions before it, where
// gojq takes none (an operand, an object value).
func (p *jjParser) wrapDefs(x jjOperand) {
	if x.core != x.first {
		p.wrap(x.first, x.last)
	}
}

// wrapObjectValue parenthesises an object value (tokens first to last)
// that binds a variable or defines a function: gojq's object values are
// pipelines of expressions only.
func (p *jjParser) wrapObjectValue(first, last int) {
	for i := first; i <= last; i++ {
		if k := p.tokens[i].kind; k == jjAs || k == jjDef {
			p.wrap(first, last)
			return
		}
	}
}

// shapeBinary parenthesises the operands xs and operators ops of a
// BinaryOperatorExpression as jackson-jq builds its tree (a
// shunting-yard, BinaryOperatorExpression.buildTree). The first
// operand's definitions stay outside: gojq reads them as the definitions
// of the query that follows, which jackson-jq's scope (one per query, a
// definition added to it as it runs) makes the same.
func (p *jjParser) shapeBinary(xs []jjOperand, ops []jjKind) {
	if len(ops) == 0 {
		return
	}
	for i, x := range xs {
		if i > 0 {
			p.wrapDefs(x)
		}
		if x.catch {
			p.wrap(x.core, x.last)
		}
	}
	if len(ops) == 1 {
		return // one operator: gojq's tree is jackson-jq's
	}
	start := func(i int) int {
		if i == 0 {
			return xs[0].core
		}
		return xs[i].first
	}
	type node struct{ l, r int } // operands l to r
	var nodes []node
	exprs := []node{{0, 0}}
	var stack []jjKind
	reduce := func() {
		op := len(stack) - 1
		stack = stack[:op]
		rhs, lhs := exprs[len(exprs)-1], exprs[len(exprs)-2]
		n := node{lhs.l, rhs.r}
		exprs = append(exprs[:len(exprs)-2], n)
		nodes = append(nodes, n)
	}
	for i, op := range ops {
		prec, right := jjPrecedence(op)
		for len(stack) > 0 {
			top, _ := jjPrecedence(stack[len(stack)-1])
			if prec > top || prec == top && !right {
				reduce()
				continue
			}
			break
		}
		stack = append(stack, op)
		exprs = append(exprs, node{i + 1, i + 1})
	}
	for len(stack) > 0 {
		reduce()
	}
	for _, n := range nodes[:len(nodes)-1] { // the last is the whole chain
		p.wrap(start(n.l), xs[n.r].last)
	}
}

// jacksonShape returns query with the parentheses jackson-jq's tree
// needs (see above), or query as it is when jackson-jq does not parse it.
func jacksonShape(query string) string {
	p := &jjParser{lx: newJJLexer(query), tokens: []jjToken{{}}, calls: []jjCall{{}}}
	ok := func() (ok bool) {
		defer func() {
			if r := recover(); r != nil {
				if _, isFail := r.(jjFail); !isFail {
					panic(r)
				}
			}
		}()
		p.jsonQuery()
		p.consume(jjEOF)
		return true
	}()
	if !ok || len(p.inserts) == 0 {
		return query
	}
	// At one offset, a group that ends goes before one that starts.
	slices.SortStableFunc(p.inserts, func(a, b jjInsert) int {
		if a.at != b.at {
			return a.at - b.at
		}
		if a.text == b.text {
			return 0
		}
		if a.text == ")" {
			return -1
		}
		return 1
	})
	src := p.lx.src
	out := make([]uint16, 0, len(src)+len(p.inserts))
	last := 0
	for _, in := range p.inserts {
		out = append(out, src[last:in.at]...)
		out = append(out, utf16.Encode([]rune(in.text))...)
		last = in.at
	}
	out = append(out, src[last:]...)
	return string(utf16.Decode(out))
}
