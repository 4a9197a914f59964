package tasks

import (
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

// jqCaught masks a caught message; any other caught value (error(v) with
// v not a string) is whole, for the output's masking to find.
func jqCaught(v any, args []any) any {
	s, ok := v.(string)
	if !ok {
		return v
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
