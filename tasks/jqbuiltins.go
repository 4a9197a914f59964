package tasks

import (
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// gojq has builtins Conductor's jq (jackson-jq 0.0.13) has not; there a
// query that calls one fails when the call runs, with "Function NAME/N
// does not exist" (tree/FunctionCall.java), "Undefined variable: $NAME"
// (tree/VariableAccess.java) or "Formatting operator @NAME does not exist"
// (tree/FormattingFilter.java). wfrun fails such a query the same way:
// before the query compiles, each such call becomes an error with that
// message, raised where and when the call would run (a try catches it, a
// branch not taken never raises it). A query that defines a function or
// binds a variable of that name keeps its own.
//
// The list is gojq v0.12.20's builtins (its "builtins" function) for which
// jackson-jq 0.0.13, asked to call each, answered that it does not exist
// (see testdata/jq/README.md for how jackson-jq was run).
var jqMissingBuiltins = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(`IN/1 IN/2 INDEX/1 INDEX/2 JOIN/2 JOIN/3 JOIN/4 abs/0 acos/0 acosh/0 add/1
		asin/0 asinh/0 atan2/2 atanh/0 bsearch/1 builtins/0 cbrt/0 ceil/0 copysign/2 cosh/0 debug/1 delpaths/1
		drem/2 env/0 erf/0 erfc/0 error/0 exp/0 exp10/0 exp2/0 expm1/0 fabs/0 fdim/2 finites/0 fma/3 fmax/2
		fmin/2 fmod/2 format/1 frexp/0 fromdate/0 fromdateiso8601/0 fromstream/1 gamma/0 getpath/1 gmtime/0
		halt/0 halt_error/0 halt_error/1 hypot/2 input/0 inputs/0 isempty/1 isfinite/0 isnormal/0 j0/0 j1/0
		jn/2 ldexp/2 lgamma/0 localtime/0 log/0 log10/0 log1p/0 logb/0 ltrim/0 mktime/0 modf/0 modulemeta/0
		nearbyint/0 nextafter/2 nexttoward/2 normals/0 now/0 path/1 pick/1 remainder/2 repeat/1 rint/0
		round/0 rtrim/0 scalb/2 scalbln/2 setpath/2 significand/0 sinh/0 skip/2 strflocaltime/1 strftime/1
		strptime/1 tan/0 tanh/0 tgamma/0 toboolean/0 todate/0 todateiso8601/0 tostream/0 trim/0 trimstr/1
		trunc/0 truncate_stream/1 y0/0 y1/0 yn/2`) {
		m[f] = true
	}
	return m
}()

// jqMissingVariables and jqMissingFormats are gojq's predefined variables
// and formats jackson-jq 0.0.13 has not.
var (
	jqMissingVariables = map[string]bool{"$ENV": true, "$__loc__": true}
	jqMissingFormats   = map[string]bool{"@base32": true, "@base32d": true, "@base64d": true}
)

// rejectUnknown rewrites every use of name (a function "f/1" or a
// variable "$x") in q into jackson-jq's error for it: a call fails when it
// runs, and {$x} (VariableKeyFieldConstruction.java) gives "x": null. It
// reports false, changing nothing, when the query defines or binds name
// somewhere (own: gojq refused a use out of that scope, and no rewrite
// would be faithful); what wfrun's rewrites define and bind is not the
// query's.
func rejectUnknown(q *gojq.Query, name string, own map[string]bool) bool {
	if own[name] {
		return false
	}
	msg := "Function " + name + " does not exist"
	if strings.HasPrefix(name, "$") {
		msg = "Undefined variable: " + name
	}
	changed := false
	walkJQ(q, nil, func(t *gojq.Term) {
		if t.Object != nil {
			for _, kv := range t.Object.KeyVals {
				if kv.Key == name && kv.Val == nil {
					kv.Key = name[1:]
					kv.Val = &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeNull}}
					changed = true
				}
			}
		}
		if t.Type == gojq.TermTypeFunc && callName(t.Func) == name {
			raise(t, msg)
			changed = true
		}
	})
	return changed
}

// callName is "f/N" for a call of f with N arguments, "$x" for a variable.
func callName(f *gojq.Func) string {
	if strings.HasPrefix(f.Name, "$") {
		return f.Name
	}
	return f.Name + "/" + strconv.Itoa(len(f.Args))
}

// raise turns t into error(msg), keeping its suffixes (.a, [0], ?).
func raise(t *gojq.Term, msg string) {
	arg := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: msg}}}
	*t = gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: "error", Args: []*gojq.Query{arg}}, SuffixList: t.SuffixList}
}

// rejectMissingBuiltins rewrites q's calls of gojq builtins jackson-jq
// lacks into errors with jackson-jq's message.
func rejectMissingBuiltins(q *gojq.Query) {
	own := ownNames(q)
	walkJQ(q, nil, func(t *gojq.Term) {
		if t.Object != nil {
			for _, kv := range t.Object.KeyVals {
				if jqMissingVariables[kv.Key] && kv.Val == nil && !own[kv.Key] {
					// {$x} of a variable jackson-jq does not have: "x": null.
					kv.Key, kv.Val = kv.Key[1:], &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeNull}}
				}
			}
		}
		var msg string
		switch {
		case t.Type == gojq.TermTypeFunc && strings.HasPrefix(t.Func.Name, "$"):
			if jqMissingVariables[t.Func.Name] && !own[t.Func.Name] {
				msg = "Undefined variable: " + t.Func.Name
			}
		case t.Type == gojq.TermTypeFunc:
			name := callName(t.Func)
			if jqMissingBuiltins[name] && !own[name] {
				msg = "Function " + name + " does not exist"
			}
		case t.Type == gojq.TermTypeFormat && t.Str == nil:
			if jqMissingFormats[t.Format] {
				msg = "Formatting operator " + t.Format + " does not exist"
			}
		}
		if msg == "" || own["error/1"] {
			return
		}
		raise(t, msg)
	})
}

// ownNames are the functions ("f/N") q defines and the variables ("$x")
// and labels it binds, in any scope.
func ownNames(q *gojq.Query) map[string]bool {
	own := map[string]bool{}
	var bind func(p *gojq.Pattern)
	bind = func(p *gojq.Pattern) {
		if p == nil {
			return
		}
		own[p.Name] = true
		for _, a := range p.Array {
			bind(a)
		}
		for _, o := range p.Object {
			own[o.Key] = true
			bind(o.Val)
		}
	}
	walkJQ(q, func(q *gojq.Query) {
		for _, fd := range q.FuncDefs {
			own[fd.Name+"/"+strconv.Itoa(len(fd.Args))] = true
			for _, a := range fd.Args {
				// A $name parameter binds $name and name/0.
				own[a], own[strings.TrimPrefix(a, "$")+"/0"] = true, true
			}
		}
		for _, p := range q.Patterns {
			bind(p)
		}
	}, func(t *gojq.Term) {
		if t.Reduce != nil {
			for _, p := range t.Reduce.Patterns {
				bind(p)
			}
		}
		if t.Foreach != nil {
			for _, p := range t.Foreach.Patterns {
				bind(p)
			}
		}
		if t.Label != nil {
			own[t.Label.Ident] = true
		}
	})
	return own
}

// walkJQ calls visitQ on every query and visitT on every term of q (a
// term before what it holds).
func walkJQ(q *gojq.Query, visitQ func(*gojq.Query), visitT func(*gojq.Term)) {
	walkJQOrder(q, visitQ, visitT, nil)
}

// walkJQOrder is walkJQ that also calls afterT on every term after what
// it holds (afterT may replace the term: *t = …).
func walkJQOrder(q *gojq.Query, visitQ func(*gojq.Query), visitT, afterT func(*gojq.Term)) {
	var query func(q *gojq.Query)
	var term func(t *gojq.Term)
	str := func(s *gojq.String) {
		if s != nil {
			for _, x := range s.Queries {
				query(x)
			}
		}
	}
	index := func(ix *gojq.Index) {
		if ix != nil {
			str(ix.Str)
			query(ix.Start)
			query(ix.End)
		}
	}
	query = func(q *gojq.Query) {
		if q == nil {
			return
		}
		if visitQ != nil {
			visitQ(q)
		}
		for _, fd := range q.FuncDefs {
			query(fd.Body)
		}
		for _, p := range q.Patterns {
			pattern(p, query)
		}
		term(q.Term)
		query(q.Left)
		query(q.Right)
	}
	term = func(t *gojq.Term) {
		if t == nil {
			return
		}
		if visitT != nil {
			visitT(t)
		}
		index(t.Index)
		if t.Func != nil {
			for _, a := range t.Func.Args {
				query(a)
			}
		}
		if t.Object != nil {
			for _, kv := range t.Object.KeyVals {
				str(kv.KeyString)
				query(kv.KeyQuery)
				query(kv.Val)
			}
		}
		if t.Array != nil {
			query(t.Array.Query)
		}
		if t.Unary != nil {
			term(t.Unary.Term)
		}
		str(t.Str)
		if f := t.If; f != nil {
			query(f.Cond)
			query(f.Then)
			for _, e := range f.Elif {
				query(e.Cond)
				query(e.Then)
			}
			query(f.Else)
		}
		if t.Try != nil {
			query(t.Try.Body)
			query(t.Try.Catch)
		}
		if r := t.Reduce; r != nil {
			query(r.Query)
			for _, p := range r.Patterns {
				pattern(p, query)
			}
			query(r.Start)
			query(r.Update)
		}
		if f := t.Foreach; f != nil {
			query(f.Query)
			for _, p := range f.Patterns {
				pattern(p, query)
			}
			query(f.Start)
			query(f.Update)
			query(f.Extract)
		}
		if t.Label != nil {
			query(t.Label.Body)
		}
		query(t.Query)
		for _, s := range t.SuffixList {
			index(s.Index)
		}
		if afterT != nil {
			afterT(t)
		}
	}
	query(q)
}

// pattern visits the queries a destructuring pattern holds (computed keys).
func pattern(p *gojq.Pattern, query func(*gojq.Query)) {
	if p == nil {
		return
	}
	for _, a := range p.Array {
		pattern(a, query)
	}
	for _, o := range p.Object {
		if o.KeyString != nil {
			for _, x := range o.KeyString.Queries {
				query(x)
			}
		}
		query(o.KeyQuery)
		pattern(o.Val, query)
	}
}
