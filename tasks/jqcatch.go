package tasks

import (
	"strings"

	"github.com/itchyny/gojq"

	"github.com/wfrun/wfrun/runsecrets"
)

// A try/catch hands its handler gojq's message of the error, which quotes
// the values the operation failed on as previews cut at 30 bytes
// ("cannot add: string (\"tok-3f9a7c ...\") and number (1)"): the head of
// a secret, which no value masking recognises once its tail is gone,
// would reach the task's output. maskCaught rewrites each try B catch C
// into try B catch (_wfrun_caught($masker) | C): the handler gets the
// message masked whole and then its pieces (maskPieces: glued to other text too), as
// every failure reason is. $masker is the run's masker, given to the
// query as a variable; the query's own mentions of that name read as an
// undefined variable's (reserveVariables). A query that binds that name itself (`as`, a
// function parameter, a pattern) hands its own value to the handler
// instead: the handler then gets "***", nothing of the message. The
// function's name holds a space, so no query can define one that the
// rewritten catch would call instead.

const (
	jqCaughtFunc = "_wfrun caught"
	jqMaskerVar  = "$__wfrun_masker"
)

// jqMaskerValue is the value of jqMaskerVar: the run's masker (nil when
// it has none).
type jqMaskerValue struct{ m runsecrets.Masker }

func maskCaught(q *gojq.Query) {
	walkJQ(q, nil, func(t *gojq.Term) {
		if t.Type != gojq.TermTypeTry || t.Try == nil || t.Try.Catch == nil {
			return
		}
		masker := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqMaskerVar}}}
		caught := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqCaughtFunc, Args: []*gojq.Query{masker}}}}
		t.Try.Catch = &gojq.Query{Left: caught, Op: gojq.OpPipe, Right: t.Try.Catch}
	})
}

// jqCaught masks a caught message. A caught value that is not a string
// (error(v)) is handed over as jackson-jq hands it, as the exception's
// message: v's text (JsonNode.asText: "" for an array or object), masked.
func jqCaught(v any, args []any) any {
	mv, isMasker := args[0].(jqMaskerValue)
	if !isMasker {
		// Not the masker wfrun passed: nothing can mask the message, so
		// none of it is handed over.
		return "***"
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case jqCaughtFromJSON:
		// fromjson's message, its text masked before it is cut.
		s = v.err.reason(mv.m)
	default:
		s = jacksonText(nil, v)
	}
	if mv.m != nil {
		// With the pieces glued to other text too: gojq's preview of
		// "id:" + a secret is cut inside one word ("id:Zq8X… ...").
		return maskPieces(mv.m, s)
	}
	return s
}

// jackson-jq computes all of a try's body before it goes on
// (tree/TryCatch.java: tryExpr.apply returns a list): a body that fails
// after some values gives none of them, only the handler's (try (1,
// error("x")) is empty). eagerTries rewrites each try B catch C of q (and
// each (B)? and f?) into
//
//	(try ([B] | [true, .]) catch [false, .]) | if .[0] then .[1][] else .[1] | C end
//
// (without a handler, empty): the body's values are collected first, and
// the handler runs outside the try, as jackson-jq's does, so that its own
// failure is not caught. It runs after maskCaught, whose masking is the
// start of C.
func eagerTries(q *gojq.Query) {
	walkJQOrder(q, nil, nil, func(t *gojq.Term) {
		if (t.Type == gojq.TermTypeQuery || t.Type == gojq.TermTypeFunc && !strings.HasPrefix(t.Func.Name, "$")) &&
			len(t.SuffixList) == 1 && t.SuffixList[0].Optional {
			body := *t
			body.SuffixList = nil
			*t = gojq.Term{Type: gojq.TermTypeTry, Try: &gojq.Try{Body: &gojq.Query{Term: &body}}}
		}
		if t.Type != gojq.TermTypeTry || t.Try == nil {
			return
		}
		src := `(try ([_wfrun_body] | [true, .]) catch [false, .]) | if .[0] then .[1][] else empty end`
		if t.Try.Catch != nil {
			src = `(try ([_wfrun_body] | [true, .]) catch [false, .]) | if .[0] then .[1][] else .[1] | _wfrun_handler end`
		}
		form, err := gojq.Parse(src)
		if err != nil {
			return
		}
		walkJQ(form, nil, func(x *gojq.Term) {
			if x.Type != gojq.TermTypeFunc {
				return
			}
			switch x.Func.Name {
			case "_wfrun_body":
				*x = gojq.Term{Type: gojq.TermTypeQuery, Query: t.Try.Body}
			case "_wfrun_handler":
				*x = gojq.Term{Type: gojq.TermTypeQuery, Query: t.Try.Catch}
			}
		})
		*t = gojq.Term{Type: gojq.TermTypeQuery, Query: form, SuffixList: t.SuffixList}
	})
}

// A try/catch's handler gets jackson-jq's message of an index that
// failed in the body (`Cannot index string with string "b"`), which names
// the key: gojq's error ("expected an object but got: string") has no
// key, and the failure reason's diagnosis (jqindex.go), which runs the
// query again, comes too late for a handler. caughtIndexes rewrites the
// key reads in the body of each try B catch C of q with the diagnosis's
// checks, whose failure there reads as jackson-jq's message, masked (the
// key may be computed from data) as every caught message is.
const (
	jqCaughtKey   = "_wfrun caught key"
	jqCaughtAt    = "_wfrun caught at"
	jqCaughtSlice = "_wfrun caught slice"
)

func caughtIndexes(q *gojq.Query) {
	masker := &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: jqMaskerVar}}}
	readers := jqReaders{key: jqCaughtKey, at: jqCaughtAt, slice: jqCaughtSlice, extra: []*gojq.Query{masker}}
	// The outermost tries: an inner one's body is rewritten with its
	// outer one's.
	var outer []*gojq.Term
	depth := 0
	caught := func(t *gojq.Term) bool { return t.Type == gojq.TermTypeTry && t.Try != nil && t.Try.Catch != nil }
	walkJQOrder(q, nil, func(t *gojq.Term) {
		if caught(t) {
			if depth == 0 {
				outer = append(outer, t)
			}
			depth++
		}
	}, func(t *gojq.Term) {
		if caught(t) {
			depth--
		}
	})
	for _, t := range outer {
		walkJQOrder(t.Try.Body, nil, nil, func(x *gojq.Term) { rewriteKeyReads(x, readers) })
	}
}

// jqCaughtIndexError is an index's failure in a try's body: Error is
// jackson-jq's message, masked with the run's masker ("***" for the key
// without it).
type jqCaughtIndexError struct {
	*jqIndexError
	m  runsecrets.Masker
	ok bool
}

func (e *jqCaughtIndexError) Error() string {
	if !e.ok {
		return e.jqIndexError.reason(jqMaskAll{})
	}
	return e.jqIndexError.reason(e.m)
}

// jqMaskAll masks every text whole.
type jqMaskAll struct{}

func (jqMaskAll) Mask([]byte) []byte { return []byte("***") }

// jqCaughtReader is a check of caughtIndexes: the diagnosis's check read
// with the run's masker, its last argument.
func jqCaughtReader(check func(any, []any) any) func(any, []any) any {
	return func(v any, args []any) any {
		res := check(v, args[:len(args)-1])
		e, ok := res.(*jqIndexError)
		if !ok {
			return res
		}
		mv, isMasker := args[len(args)-1].(jqMaskerValue)
		return &jqCaughtIndexError{jqIndexError: e, m: mv.m, ok: isMasker}
	}
}

// jqCaughtOptions registers the checks of caughtIndexes.
func jqCaughtOptions() []gojq.CompilerOption {
	return []gojq.CompilerOption{
		gojq.WithFunction(jqCaughtKey, 2, 2, jqCaughtReader(jqIndexKey)),
		gojq.WithFunction(jqCaughtAt, 3, 3, jqCaughtReader(jqIndexAtFunc)),
		gojq.WithFunction(jqCaughtSlice, 5, 5, jqCaughtReader(jqSliceAtFunc)),
	}
}
