package tasks

import (
	"context"
	"errors"
	"strconv"

	"github.com/itchyny/gojq"

	"github.com/wfrun/wfrun/runsecrets"
)

// jackson-jq's `Cannot index string with string "array"` names the key
// the query asked for; gojq's "expected an object but got: string" does
// not. When a query fails with an error of an index (jqIndexErrorTypes),
// Execute runs
// it once more in a diagnostic form (indexDiagnosis) in which every index
// and slice of the query (.key, ."key", .["key"], .[expr], .[a:b]) is read
// by a function that does what gojq does and, when that fails, fails with
// the value indexed, the key and the input of the term: what jackson-jq's
// message names. The diagnosis runs only after a failure, so it costs a
// successful run nothing, and it changes no result: its error reads as
// gojq's own to a try/catch in the query. Whatever it cannot place (a key
// a destructuring pattern reads, a failure after a path expression, which
// gojq cannot follow through the diagnostic functions) leaves the reason
// without the key.
//
// A key computed from data can be a secret or a piece of one: the reason
// is masked (with the pieces of values) before it is cut, as every reason.

// The diagnostic form's checks: each reads its input's key or slice as
// gojq does and is true, or fails with what jackson-jq's message names.
// The read itself follows the check as the query's own index, so that a
// read in a path expression (an assignment's left side, path(f)) stays
// one. A query that calls a check itself fails with "Function … does not
// exist" (no index error, so no diagnosis); one that defines a function
// of such a name gets a diagnosis that finds nothing or its own reads.
const (
	jqIndexFunc = "_wfrun_index_key" // (key): .[key] can be read, key from the query text
	jqIndexAt   = "_wfrun_index_at"  // (in; key): .[key] can be read, key computed on in
	jqSliceAt   = "_wfrun_slice_at"  // (in; start; end; given): .[start:end] can be read

	// The variables a check's read binds (its term's input, the key, the
	// bounds): a query cannot write them unless it spells them.
	jqIndexIn, jqIndexKeyVar, jqSliceStart, jqSliceEnd = "$__wfrun_index_in", "$__wfrun_index_key", "$__wfrun_slice_start", "$__wfrun_slice_end"
)

// jqIndexError is the diagnostic form's failure: the input of the term
// (in), the value indexed (v), the key or the slice's bounds, and gojq's
// error for the same read.
type jqIndexError struct {
	in, v      any
	key        any
	slice      bool
	start, end any
	given      [2]bool // the query writes the slice's start, its end
	err        error
}

// Error is gojq's own message, so a query that catches it goes on exactly
// as it did in the run that failed.
func (e *jqIndexError) Error() string { return e.err.Error() }

// jqIndexCode and jqSliceCode are gojq's own index and slice, run by the
// readers on [value, key] and [value, start, end].
var jqIndexCode, jqSliceCode = mustCompileJQ(".[0][.[1]]"), mustCompileJQ(".[0][.[1]:.[2]]")

func mustCompileJQ(src string) *gojq.Code {
	q, err := gojq.Parse(src)
	if err == nil {
		var c *gojq.Code
		if c, err = gojq.Compile(q); err == nil {
			return c
		}
	}
	panic("tasks: jq reader " + src + ": " + err.Error())
}

// jqRead runs code on args and returns true, or a jqIndexError.
func jqRead(code *gojq.Code, in any, args []any, slice bool) any {
	v, ok := code.Run(args).Next()
	if !ok {
		return true
	}
	if err, isErr := v.(error); isErr {
		e := &jqIndexError{in: in, v: args[0], slice: slice, err: err}
		if slice {
			e.start, e.end = args[1], args[2]
		} else {
			e.key = args[1]
		}
		return e
	}
	return true
}

func jqIndexKey(v any, args []any) any {
	return jqRead(jqIndexCode, v, []any{v, args[0]}, false)
}

func jqIndexAtFunc(v any, args []any) any {
	return jqRead(jqIndexCode, args[0], []any{v, args[1]}, false)
}

// jqSliceAtFunc's last argument says which bounds the query writes (1:
// the start, 2: the end): jackson-jq rejects a written bound that is null,
// which gojq takes as left out.
func jqSliceAtFunc(v any, args []any) any {
	v = jqRead(jqSliceCode, args[0], []any{v, args[1], args[2]}, true)
	if e, ok := v.(*jqIndexError); ok {
		given, _ := gojq.ToInt(args[3])
		e.given = [2]bool{given&1 != 0, given&2 != 0}
	}
	return v
}

// reason is jackson-jq 0.0.13's message for the read (see jqerror.go for
// the sources): the key as it is, inside quotes, masked.
func (e *jqIndexError) reason(m runsecrets.Masker) string {
	if e.slice {
		for i, b := range []any{e.start, e.end} {
			if e.given[i] && !jqIntegral(b) {
				return "Start and end indices of an " + jqTypeOf(e.in) + " slice must be numbers"
			}
		}
		return "Cannot index " + jqTypeOf(e.v) + " with object"
	}
	switch k := e.key.(type) {
	case string:
		return "Cannot index " + jqTypeOf(e.v) + " with string \"" + maskPieces(m, k) + "\""
	default:
		if jqIntegral(k) {
			return "Cannot index " + jqTypeOf(e.v) + " with number"
		}
		// BracketFieldAccess names the type of the term's input here.
		return "Cannot index " + jqTypeOf(e.in) + " with " + jqTypeOf(k)
	}
}

// indexDiagnosis re-runs query on in in its diagnostic form and returns
// jackson-jq's wording of its first error when that error is an index or a
// slice: `Cannot index string with string "array"`. ok is false when the
// diagnosis does not find such an error first.
func indexDiagnosis(ctx context.Context, m runsecrets.Masker, query string, in any, maxResults int) (string, bool) {
	q, err := gojq.Parse(gojqText(query))
	if err != nil {
		return "", false
	}
	own := prepareJackson(q)
	rewriteQuery(q)
	code, err := compileJackson(q, own,
		gojq.WithFunction(jqIndexFunc, 1, 1, jqIndexKey),
		gojq.WithFunction(jqIndexAt, 2, 2, jqIndexAtFunc),
		gojq.WithFunction(jqSliceAt, 4, 4, jqSliceAtFunc))
	if err != nil {
		return "", false
	}
	// The same key orders as the run, so that the same value fails first.
	orders := newJQOrders()
	orders.recordInput(in)
	iter := code.RunWithContext(ctx, in, jqMaskerValue{m}, orders)
	for n := 0; maxResults <= 0 || n <= maxResults; n++ {
		v, ok := iter.Next()
		if !ok {
			return "", false
		}
		if err, isErr := v.(error); isErr {
			var ie *jqIndexError
			if !errors.As(err, &ie) {
				return "", false
			}
			return ie.reason(m), true
		}
	}
	return "", false
}

// literalKey is the key an index spells out in the query text, if any.
func literalKey(ix *gojq.Index) (string, bool) {
	switch {
	case ix == nil || ix.IsSlice || ix.End != nil:
		return "", false
	case ix.Name != "":
		return ix.Name, true
	case ix.Str != nil && len(ix.Str.Queries) == 0 && ix.Start == nil:
		return ix.Str.Str, true
	case ix.Str == nil && ix.Start != nil:
		s := ix.Start
		if s.Term != nil && s.Left == nil && s.Right == nil && len(s.FuncDefs) == 0 && len(s.Patterns) == 0 &&
			s.Term.Type == gojq.TermTypeString && s.Term.Str != nil && len(s.Term.Str.Queries) == 0 &&
			len(s.Term.SuffixList) == 0 {
			return s.Term.Str.Str, true
		}
	}
	return "", false
}

// rewriteQuery replaces, in every term of q, every literal key read (its
// own .key and each key suffix) by a pipe into the key reader, after
// rewriting what the term holds.
func rewriteQuery(q *gojq.Query) {
	walkJQOrder(q, nil, nil, func(t *gojq.Term) { rewriteKeyReads(t, jqDiagnosisReaders) })
}

// jqReaders are the checks a key read is rewritten with, and the
// arguments each gets after its own.
type jqReaders struct {
	key, at, slice string
	extra          []*gojq.Query
}

var jqDiagnosisReaders = jqReaders{key: jqIndexFunc, at: jqIndexAt, slice: jqSliceAt}

// rewriteKeyReads replaces t's literal key reads by the key reader.
func rewriteKeyReads(t *gojq.Term, r jqReaders) {
	suffixes := t.SuffixList
	cur := new(gojq.Term)
	*cur = *t
	cur.SuffixList = nil
	if t.Type == gojq.TermTypeIndex {
		if x := indexReader(&gojq.Term{Type: gojq.TermTypeIdentity}, t.Index, r); x != nil {
			cur = x
		}
	}
	for _, s := range suffixes {
		if s.Index != nil {
			if x := indexReader(cur, s.Index, r); x != nil {
				cur = x
				continue
			}
		}
		cur.SuffixList = append(cur.SuffixList, s)
	}
	*t = *cur
}

// indexReader is target's read of ix in the diagnostic form (nil when ix
// is none of the reads it knows): the check, then the read, in a form
// that is a path where target[ix] is one:
//
//	target | if CHECK("k") then . else . end | .["k"]
//	. as $in | K as $key | target | if CHECK($in; $key) then . else . end | .[$key]
//	. as $in | S as $start | E as $end | target | if CHECK($in; $start; $end; given) then . else . end | .[$start:$end]
func indexReader(target *gojq.Term, ix *gojq.Index, r jqReaders) *gojq.Term {
	q := func(t *gojq.Term) *gojq.Query { return &gojq.Query{Term: t} }
	variable := func(name string) *gojq.Query {
		return q(&gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name}})
	}
	null := q(&gojq.Term{Type: gojq.TermTypeNull})
	pipe := func(qs ...*gojq.Query) *gojq.Query {
		x := qs[len(qs)-1]
		for i := len(qs) - 2; i >= 0; i-- {
			x = &gojq.Query{Left: qs[i], Op: gojq.OpPipe, Right: x}
		}
		return x
	}
	bind := func(value *gojq.Query, name string, body *gojq.Query) *gojq.Query {
		return &gojq.Query{Left: value, Op: gojq.OpPipe, Patterns: []*gojq.Pattern{{Name: name}}, Right: body}
	}
	check := func(name string, args ...*gojq.Query) *gojq.Query {
		cond := q(&gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: name, Args: append(args, r.extra...)}})
		return q(&gojq.Term{Type: gojq.TermTypeIf, If: &gojq.If{Cond: cond, Then: q(&gojq.Term{Type: gojq.TermTypeIdentity}),
			Else: q(&gojq.Term{Type: gojq.TermTypeIdentity})}})
	}
	read := func(ix *gojq.Index) *gojq.Query { return q(&gojq.Term{Type: gojq.TermTypeIndex, Index: ix}) }
	term := func(x *gojq.Query) *gojq.Term { return &gojq.Term{Type: gojq.TermTypeQuery, Query: x} }
	in := func(body *gojq.Query) *gojq.Query {
		return bind(q(&gojq.Term{Type: gojq.TermTypeIdentity}), jqIndexIn, body)
	}
	if key, ok := literalKey(ix); ok {
		arg := q(&gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: key}})
		return term(pipe(q(target), check(r.key, arg), read(&gojq.Index{Str: &gojq.String{Str: key}})))
	}
	switch {
	case ix.IsSlice || ix.End != nil:
		given := 0
		start, end := null, null
		slice := &gojq.Index{IsSlice: true}
		if ix.Start != nil {
			given |= 1
			start, slice.Start = ix.Start, variable(jqSliceStart)
		}
		if ix.End != nil {
			given |= 2
			end, slice.End = ix.End, variable(jqSliceEnd)
		}
		g := q(&gojq.Term{Type: gojq.TermTypeNumber, Number: strconv.Itoa(given)})
		body := pipe(q(target), check(r.slice, variable(jqIndexIn), variable(jqSliceStart), variable(jqSliceEnd), g), read(slice))
		return term(in(bind(start, jqSliceStart, bind(end, jqSliceEnd, body))))
	case ix.Str != nil || ix.Start != nil:
		key := ix.Start
		if ix.Str != nil {
			key = q(&gojq.Term{Type: gojq.TermTypeString, Str: ix.Str})
		}
		body := pipe(q(target), check(r.at, variable(jqIndexIn), variable(jqIndexKeyVar)), read(&gojq.Index{Start: variable(jqIndexKeyVar)}))
		return term(in(bind(key, jqIndexKeyVar, body)))
	}
	return nil
}
