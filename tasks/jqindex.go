package tasks

import (
	"context"
	"errors"
	"strconv"

	"github.com/itchyny/gojq"
)

// jq's "Cannot index string with string \"array\"" names the key the query
// asked for; gojq's "expected an object but got: string" does not. When a
// query fails with that error, Execute runs it once more in a diagnostic
// form (indexDiagnosis) in which every key the query text spells out
// (.key, ."key", .["key"]) is read by a function that, on a value that is
// not an object, fails with the key. The diagnosis runs only after a
// failure, so it costs a successful run nothing, and it changes no result:
// its error reads as gojq's own to a try/catch in the query, and whatever
// it cannot place (a key computed from data, a key a destructuring pattern
// reads, a failure after a path expression, which gojq cannot follow
// through the diagnostic function) leaves the reason without the key.
//
// Only keys from the query text are quoted: a key computed from data could
// be a secret or a piece of one. Program text holds no secret (a secret
// reference in a queryExpression is a validation error) and the reason is
// masked whole before it is cut all the same.

// jqIndexFunc is the diagnostic form's key reader. A query that calls it
// itself does not compile, so never reaches the diagnosis; one that defines
// a function of that name gets a diagnosis that finds nothing or its own
// key reads.
const jqIndexFunc = "_wfrun_index_key"

// jqIndexError is the diagnostic form's failure: the type of the value
// indexed and the key.
type jqIndexError struct {
	v   any
	key string
}

// Error reads as gojq's expectedObjectError, so a query that catches it
// goes on exactly as it did in the run that failed.
func (e *jqIndexError) Error() string {
	return "expected an object but got: " + gojq.TypeOf(e.v) + " (" + gojq.Preview(e.v) + ")"
}

func jqIndexKey(v any, args []any) any {
	key, _ := args[0].(string)
	switch m := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return m[key]
	}
	return &jqIndexError{v: v, key: key}
}

// indexDiagnosis re-runs query on in in its diagnostic form and returns
// jq's wording of its first error when that error is a key read from a
// value that is not an object: `Cannot index string with string "array"`.
// ok is false when the diagnosis does not find that error first.
func indexDiagnosis(ctx context.Context, query string, in any, maxResults int) (string, bool) {
	q, err := gojq.Parse(query)
	if err != nil {
		return "", false
	}
	rewriteQuery(q)
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }),
		gojq.WithFunction(jqIndexFunc, 1, 1, jqIndexKey))
	if err != nil {
		return "", false
	}
	iter := code.RunWithContext(ctx, in)
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
			return "Cannot index " + gojq.TypeOf(ie.v) + " with string " + strconv.Quote(ie.key), true
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

func keyReader(key string) *gojq.Term {
	arg := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: key}}}
	return &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqIndexFunc, Args: []*gojq.Query{arg}}}
}

func rewriteQuery(q *gojq.Query) {
	if q == nil {
		return
	}
	for _, fd := range q.FuncDefs {
		rewriteQuery(fd.Body)
	}
	rewriteTerm(q.Term)
	rewriteQuery(q.Left)
	rewriteQuery(q.Right)
}

func rewriteString(s *gojq.String) {
	if s != nil {
		for _, q := range s.Queries {
			rewriteQuery(q)
		}
	}
}

func rewriteIndex(ix *gojq.Index) {
	if ix != nil {
		rewriteString(ix.Str)
		rewriteQuery(ix.Start)
		rewriteQuery(ix.End)
	}
}

// rewriteTerm replaces every literal key read of t (its own .key and each
// key suffix) by a pipe into the key reader, after rewriting what t holds.
func rewriteTerm(t *gojq.Term) {
	if t == nil {
		return
	}
	rewriteIndex(t.Index)
	if t.Func != nil {
		for _, a := range t.Func.Args {
			rewriteQuery(a)
		}
	}
	if t.Object != nil {
		for _, kv := range t.Object.KeyVals {
			rewriteString(kv.KeyString)
			rewriteQuery(kv.KeyQuery)
			rewriteQuery(kv.Val)
		}
	}
	if t.Array != nil {
		rewriteQuery(t.Array.Query)
	}
	if t.Unary != nil {
		rewriteTerm(t.Unary.Term)
	}
	rewriteString(t.Str)
	if f := t.If; f != nil {
		rewriteQuery(f.Cond)
		rewriteQuery(f.Then)
		for _, e := range f.Elif {
			rewriteQuery(e.Cond)
			rewriteQuery(e.Then)
		}
		rewriteQuery(f.Else)
	}
	if t.Try != nil {
		rewriteQuery(t.Try.Body)
		rewriteQuery(t.Try.Catch)
	}
	if r := t.Reduce; r != nil {
		rewriteQuery(r.Query)
		rewriteQuery(r.Start)
		rewriteQuery(r.Update)
	}
	if f := t.Foreach; f != nil {
		rewriteQuery(f.Query)
		rewriteQuery(f.Start)
		rewriteQuery(f.Update)
		rewriteQuery(f.Extract)
	}
	if t.Label != nil {
		rewriteQuery(t.Label.Body)
	}
	rewriteQuery(t.Query)
	for _, s := range t.SuffixList {
		rewriteIndex(s.Index)
	}

	suffixes := t.SuffixList
	cur := new(gojq.Term)
	*cur = *t
	cur.SuffixList = nil
	if key, ok := literalKey(t.Index); ok && t.Type == gojq.TermTypeIndex {
		cur = keyReader(key)
	}
	for _, s := range suffixes {
		if key, ok := literalKey(s.Index); ok {
			cur = &gojq.Term{Type: gojq.TermTypeQuery, Query: &gojq.Query{
				Left: &gojq.Query{Term: cur}, Op: gojq.OpPipe, Right: &gojq.Query{Term: keyReader(key)}}}
			continue
		}
		cur.SuffixList = append(cur.SuffixList, s)
	}
	*t = *cur
}
