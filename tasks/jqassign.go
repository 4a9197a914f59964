package tasks

import (
	"slices"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// jackson-jq 0.0.13 assigns (=, |=, +=, -=, *=, /=, %=, //=) only to a
// field access on "." (tree/binaryop/assignment/Assignment.java,
// UpdateAssignment.java, ComplexAssignment.java): any other left side
// fails when the assignment runs, with "left hand side must be
// FieldAccess", or "cannot update value" when the accesses start from
// something else than ".". gojq assigns to any path (., first(.a), ...).
// rejectAssignments turns such assignments in q into that failure.

var jqAssignOps = map[gojq.Operator]bool{
	gojq.OpAssign: true, gojq.OpModify: true, gojq.OpUpdateAdd: true, gojq.OpUpdateSub: true,
	gojq.OpUpdateMul: true, gojq.OpUpdateDiv: true, gojq.OpUpdateMod: true, gojq.OpUpdateAlt: true,
}

func rejectAssignments(q *gojq.Query) {
	own := ownNames(q)
	if own["error/1"] {
		return
	}
	walkJQ(q, func(x *gojq.Query) {
		if !jqAssignOps[x.Op] || x.Left == nil || x.Right == nil {
			return
		}
		access, onThis := jqFieldAccess(x.Left)
		msg := ""
		switch {
		case !access:
			msg = "left hand side must be FieldAccess"
		case !onThis:
			msg = "cannot update value"
		default:
			return
		}
		t := &gojq.Term{}
		raise(t, msg)
		*x = gojq.Query{FuncDefs: x.FuncDefs, Term: t}
	}, nil)
}

// jqFieldAccess reports whether x is what jackson-jq parses as a field
// access (.a, .[0], .[], ."k", $v.a, f[0], (…).a; a trailing ? of the
// access included), and whether its accesses start from ".".
func jqFieldAccess(x *gojq.Query) (access, onThis bool) {
	if x == nil || x.Term == nil || len(x.FuncDefs) > 0 {
		return false, false
	}
	t := x.Term
	hasAccess := t.Type == gojq.TermTypeIndex
	for _, s := range t.SuffixList {
		if s.Index != nil || s.Iter {
			hasAccess = true
		}
	}
	if !hasAccess {
		if t.Type == gojq.TermTypeQuery && len(t.SuffixList) == 0 {
			// (X) is X to jackson-jq; (X)? is a try.
			return jqFieldAccess(t.Query)
		}
		return false, false
	}
	switch t.Type {
	case gojq.TermTypeIndex, gojq.TermTypeIdentity:
		return true, true
	case gojq.TermTypeQuery:
		// (X).a: the accesses go on from X's.
		_, on := jqFieldAccess(t.Query)
		return true, on
	}
	return true, false
}

// jacksonSliceUpdateReason is jackson-jq's failure to assign value at
// path in v when the path ends in a slice (JsonNodeUtils.mutate, range
// access): a string's slice cannot be assigned, nor an array's (or
// null's) slice anything but an array. Other failures of an assignment
// are an index the diagnosis places (jqindex.go); ok is false for them.
func jacksonSliceUpdateReason(v, path, value any) (string, bool) {
	p, ok := path.([]any)
	if !ok || len(p) == 0 {
		return "", false
	}
	if last, ok := p[len(p)-1].(map[string]any); !ok || len(last) == 0 {
		return "", false
	}
	container := v
	for _, k := range p[:len(p)-1] {
		switch c := container.(type) {
		case map[string]any:
			key, ok := k.(string)
			if !ok {
				return "", false
			}
			container = c[key]
		case []any:
			i, ok := k.(int)
			if !ok || i < 0 || i >= len(c) {
				return "", false
			}
			container = c[i]
		case nil:
		default:
			return "", false
		}
	}
	switch container.(type) {
	case string:
		return "Cannot update field at object index of string", true
	case []any, nil:
		if _, isArray := value.([]any); !isArray {
			return "A slice of an array can only be assigned another array", true
		}
	}
	return "", false
}

// jqUpdateOps are the arithmetic update-assignments and their operators.
var jqUpdateOps = map[gojq.Operator]gojq.Operator{
	gojq.OpUpdateAdd: gojq.OpAdd, gojq.OpUpdateSub: gojq.OpSub, gojq.OpUpdateMul: gojq.OpMul,
	gojq.OpUpdateDiv: gojq.OpDiv, gojq.OpUpdateMod: gojq.OpMod,
}

// jqUpdateVar is the variable updateAssignments binds.
const jqUpdateVar = "$__wfrun_update"

// updateAssignments rewrites each A op= B of q (op one of + - * / %) into
// B as $v | A |= . op $v, as jackson-jq computes it
// (tree/binaryop/assignment/ComplexAssignment.java: for each value of B,
// the operator applied at A's path), so that the operator is jackson-jq's
// (jqlong.go: + - * of integers wrap at 64 bits, % takes only integers),
// not gojq's. It runs after rejectAssignments and before leftFirst and
// longArith, which rewrite the operator.
func updateAssignments(q *gojq.Query) {
	walkJQ(q, func(x *gojq.Query) {
		op, ok := jqUpdateOps[x.Op]
		if !ok || x.Left == nil || x.Right == nil {
			return
		}
		v := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqUpdateVar}}}
		dot := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeIdentity}}
		update := &gojq.Query{Left: x.Left, Op: gojq.OpModify, Right: &gojq.Query{Left: dot, Op: op, Right: v}}
		*x = gojq.Query{FuncDefs: x.FuncDefs, Left: x.Right, Op: gojq.OpPipe, Patterns: []*gojq.Pattern{{Name: jqUpdateVar}}, Right: update}
	}, nil)
}

// hoistDefinition moves the query's definition of name ("f/N"), made
// inside an operand, an object's value or another expression, to the
// definitions of the smallest query around it and every call of name,
// when every call that is not inside an earlier definition's expression
// comes after it (the last definition of name the query runs), and no
// variable binding (`as`), function body, reduce or foreach lies between: jackson-jq adds a definition to the scope it runs in
// (tree/FunctionDefinition.java), so later expressions of that scope see
// it ({a: def f: 1; f, b: f}; 1 + def f: 2; f | f), where gojq sees it
// only in the expression it begins; `as` and a function's body are scopes
// of their own there. It reports whether it moved one; the caller
// compiles again.
func hoistDefinition(q *gojq.Query, name string) bool {
	// Calls of a parameter of that name are not calls of the definition.
	params := map[*gojq.Term]bool{}
	walkJQ(q, func(x *gojq.Query) {
		for _, fd := range x.FuncDefs {
			for _, a := range fd.Args {
				if strings.TrimPrefix(a, "$")+"/0" == name {
					walkJQ(fd.Body, nil, func(t *gojq.Term) { params[t] = true })
				}
			}
		}
	}, nil)
	var owner *gojq.Query
	var def *gojq.FuncDef
	var owners []*gojq.Query
	var uses []*gojq.Term
	var usePos []int
	pos, defPos, atRoot := 0, -1, false
	walkJQ(q, func(x *gojq.Query) {
		pos++
		for _, fd := range x.FuncDefs {
			if fd.Name+"/"+strconv.Itoa(len(fd.Args)) == name {
				if x == q {
					atRoot = true
				}
				owners = append(owners, x)
				owner, def, defPos = x, fd, pos // the last one run
			}
		}
	}, func(t *gojq.Term) {
		pos++
		if t.Type == gojq.TermTypeFunc && callName(t.Func) == name && !params[t] {
			uses = append(uses, t)
			usePos = append(usePos, pos)
		}
	})
	if atRoot || def == nil {
		return false
	}
	// A call inside an earlier definition's expression is that one's; any
	// other must come after the last definition, which is the one it sees
	// in jackson-jq.
	for i, u := range uses {
		local := false
		for _, o := range owners[:len(owners)-1] {
			walkJQ(o, nil, func(t *gojq.Term) { local = local || t == u })
		}
		if !local && usePos[i] < defPos {
			return false
		}
	}
	holdsQuery := func(x, y *gojq.Query) (found bool) {
		walkJQ(x, func(z *gojq.Query) { found = found || z == y }, nil)
		return found
	}
	holdsAll := func(x *gojq.Query) bool {
		for _, u := range uses {
			found := false
			walkJQ(x, nil, func(t *gojq.Term) { found = found || t == u })
			if !found {
				return false
			}
		}
		return true
	}
	// The smallest query holding the definition's and every call: the
	// one of them that the others hold.
	var target *gojq.Query
	walkJQ(q, func(x *gojq.Query) {
		if x != owner && holdsQuery(x, owner) && holdsAll(x) && (target == nil || holdsQuery(target, x)) {
			target = x
		}
	}, nil)
	if target == nil {
		return false
	}
	// A scope between the target and the definition: jackson-jq's
	// definition would not be seen outside it.
	between := false
	walkJQ(target, func(x *gojq.Query) {
		// wfrun's own bindings (leftFirst's sides, an assignment's input)
		// are no scope of the query's.
		if len(x.Patterns) > 0 && !strings.HasPrefix(x.Patterns[0].Name, "$__wfrun") && x.Right != nil && holdsQuery(x.Right, owner) {
			between = true
		}
		for _, fd := range x.FuncDefs {
			if holdsQuery(fd.Body, owner) {
				between = true
			}
		}
	}, func(t *gojq.Term) {
		for _, r := range []*gojq.Reduce{t.Reduce} {
			if r != nil && (holdsQuery(r.Update, owner) || holdsQuery(r.Start, owner)) {
				between = true
			}
		}
		if f := t.Foreach; f != nil && (holdsQuery(f.Update, owner) || holdsQuery(f.Start, owner) || holdsQuery(f.Extract, owner)) {
			between = true
		}
	})
	if between {
		return false
	}
	owner.FuncDefs = slices.DeleteFunc(owner.FuncDefs, func(fd *gojq.FuncDef) bool { return fd == def })
	target.FuncDefs = append(target.FuncDefs, def)
	return true
}
