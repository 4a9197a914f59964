package tasks

import (
	"math"
	"strconv"

	"github.com/itchyny/gojq"
)

// jackson-jq 0.0.13 takes a key of .[k] only when it is a string or a
// number with no fraction (tree/fieldaccess/BracketFieldAccess.java): any
// other key fails with "Cannot index T with K", T the type of the term's
// input (not of the value indexed: .l[1.5] on an object names the
// object). A number key reads only an array or null
// (resolved/ResolvedIndexFieldAccess.java): "abc" | .[0] fails with
// "Cannot index string with number". gojq indexes a string by a number,
// an array by a fraction (rounded down) and by an array (indices).
// strictIndexes rewrites each such read t[k] of q, a key other than a
// literal string, into
//
//	(. as $__wfrun_in | t | _wfrun_at($__wfrun_in | k; $__wfrun_in))
//
// (a literal integral key, the most common, into (t | _wfrun_at(N; null))),
// whose jq definition (jqStrictIndexDef) reads what jackson-jq reads and
// fails with its message otherwise. Being jq, it keeps path(...), the
// assignments and del working on what it reads. For each value of t it
// takes every key, as jackson-jq does (gojq takes every t for each key).

const (
	jqStrictIndexFunc = "_wfrun_at"
	jqStrictIndexIn   = "$__wfrun_in"
)

// jqStrictIndexDef is added to a query after strictIndexes rewrote it (its
// own .[$k] is not rewritten).
const jqStrictIndexDef = `def _wfrun_at(k; $i): k as $k |
  if ($k | type) == "number" then
    if $k != ($k | floor) then error("Cannot index \($i | type) with number")
    elif type == "string" then error("Cannot index string with number")
    else .[$k] end
  elif ($k | type) == "string" then .[$k]
  else error("Cannot index \($i | type) with \($k | type)") end; .`

// strictIndex reports whether ix is a read strictIndexes rewrites, and
// whether its key is a literal integral number.
func strictIndex(ix *gojq.Index) (rewrite, literalInt bool) {
	if ix == nil || ix.IsSlice || ix.End != nil || ix.Str != nil || ix.Start == nil {
		return false, false
	}
	if _, ok := literalKey(ix); ok {
		return false, false
	}
	s := ix.Start
	if s.Term != nil && s.Left == nil && s.Right == nil && len(s.FuncDefs) == 0 && len(s.Patterns) == 0 &&
		s.Term.Type == gojq.TermTypeNumber && len(s.Term.SuffixList) == 0 {
		if f, err := strconv.ParseFloat(s.Term.Number, 64); err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
			return true, true
		}
	}
	return true, false
}

func strictIndexes(q *gojq.Query) {
	walkJQ(q, nil, func(t *gojq.Term) {
		has := false
		if t.Type == gojq.TermTypeIndex {
			has, _ = strictIndex(t.Index)
		}
		for _, s := range t.SuffixList {
			if ok, _ := strictIndex(s.Index); ok {
				has = true
			}
		}
		if !has {
			return
		}
		cur := new(gojq.Term)
		*cur = *t
		cur.SuffixList = nil
		if t.Type == gojq.TermTypeIndex {
			if ok, _ := strictIndex(t.Index); ok {
				cur = strictRead(&gojq.Term{Type: gojq.TermTypeIdentity}, t.Index)
			}
		}
		for _, s := range t.SuffixList {
			if ok, _ := strictIndex(s.Index); ok {
				cur = strictRead(cur, s.Index)
				continue
			}
			cur.SuffixList = append(cur.SuffixList, s)
		}
		*t = *cur
	})
}

// strictRead is the read of ix on target, as strictIndexes writes it.
func strictRead(target *gojq.Term, ix *gojq.Index) *gojq.Term {
	_, literalInt := strictIndex(ix)
	variable := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqStrictIndexIn}}}
	key, in := ix.Start, &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeNull}}
	if !literalInt {
		key = &gojq.Query{Left: variable, Op: gojq.OpPipe, Right: ix.Start}
		in = variable
	}
	read := &gojq.Query{Left: &gojq.Query{Term: target}, Op: gojq.OpPipe, Right: &gojq.Query{Term: &gojq.Term{
		Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqStrictIndexFunc, Args: []*gojq.Query{key, in}}}}}
	if !literalInt {
		read = &gojq.Query{Left: &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeIdentity}}, Op: gojq.OpPipe,
			Patterns: []*gojq.Pattern{{Name: jqStrictIndexIn}}, Right: read}
	}
	return &gojq.Term{Type: gojq.TermTypeQuery, Query: read}
}
