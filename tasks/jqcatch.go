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
// message masked whole and then its pieces (runsecrets.CodeExcerpt), as
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
	s, ok := v.(string)
	if !ok {
		s = jacksonText(nil, v)
	}
	mv, ok := args[0].(jqMaskerValue)
	if !ok {
		// Not the masker wfrun passed: nothing can mask the message, so
		// none of it is handed over.
		return "***"
	}
	if mv.m != nil {
		return runsecrets.CodeExcerpt(mv.m, s, 0)
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
