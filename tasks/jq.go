package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/itchyny/gojq"
)

// JQTask executes JSON_JQ_TRANSFORM: inputParameters.queryExpression is a
// jq program (gojq) run with the whole resolved input as ".", so every
// other input key is ".key". The output is {"result": first value,
// "resultList": [all values]}; a query that fails fails the task (retryable)
// with the reason in output "error". Programs are compiled once and cached.
//
// Conductor runs these queries on jackson-jq 0.0.13, and wfrun follows it:
// a query its grammar rejects is rejected (jqparse.go), a builtin it lacks
// ($ENV, env, input, getpath, ...) fails when called (jqbuiltins.go), and
// failure reasons read as its messages (jqerror.go, jqindex.go,
// jqfuncerror.go); testdata/jq lists where wfrun still differs. The query
// cannot read the process environment.
type JQTask struct {
	opts *options

	mu    sync.Mutex
	codes map[string]*gojq.Code
}

var (
	_ Task      = (*JQTask)(nil)
	_ Validator = (*JQTask)(nil)
)

const jqCacheSize = 4096

func newJQTask(o *options) *JQTask {
	return &JQTask{opts: o, codes: map[string]*gojq.Code{}}
}

// JQError is a jq program that does not parse or compile. Offset is the
// byte offset in the query when gojq reports one (-1 otherwise).
type JQError struct {
	Offset int
	Msg    string
	// reason is the failure reason Conductor reports for the query
	// (jackson-jq's message), when wfrun knows it.
	reason string
}

// Reason is the error as a failed task reports it: jackson-jq's message
// where wfrun knows it (a query its grammar rejects, jqparse.go; an
// unknown function), else Error.
func (e *JQError) Reason() string {
	if e.reason != "" {
		return e.reason
	}
	return e.Error()
}

func (e *JQError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("jq: compile error at offset %d: %s", e.Offset, e.Msg)
	}
	return "jq: compile error: " + e.Msg
}

func (t *JQTask) compile(query string) (*gojq.Code, error) {
	t.mu.Lock()
	c, ok := t.codes[query]
	t.mu.Unlock()
	if ok {
		return c, nil
	}
	// What Conductor's jq does not parse fails here too, as it words it,
	// even where gojq would run it.
	if err := jacksonSyntax(query); err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		return nil, &JQError{Offset: -1, Msg: first, reason: err.Error()}
	}
	q, err := gojq.Parse(gojqText(query))
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			return nil, &JQError{Offset: pe.Offset, Msg: pe.Error()}
		}
		return nil, &JQError{Offset: -1, Msg: err.Error()}
	}
	c, err = compileJackson(q, prepareJackson(q))
	if err != nil {
		je := &JQError{Offset: -1, Msg: err.Error()}
		// An unknown name compileJackson could not turn into jackson-jq's
		// runtime error (one the query defines elsewhere, out of scope
		// here): jackson-jq's words, before the query runs.
		if fn, ok := strings.CutPrefix(err.Error(), "function not defined: "); ok {
			je.reason = "Function " + fn + " does not exist"
		} else if v, ok := strings.CutPrefix(err.Error(), "variable not defined: "); ok {
			je.reason = "Undefined variable: " + v
		}
		return nil, je
	}
	t.mu.Lock()
	if len(t.codes) >= jqCacheSize {
		clear(t.codes)
	}
	t.codes[query] = c
	t.mu.Unlock()
	return c, nil
}

// Execute runs the query.
func (t *JQTask) Execute(ctx context.Context, req *Request) (res Result) {
	svc := req.Services
	in, err := decodeJQInput(req.Input)
	if err != nil {
		return failure(FailedTerminal, mask(svc, err.Error()))
	}
	// As Conductor's JsonJqTransform: a missing query and one that does not
	// compile fail the task FAILED (retried as its definition says), like
	// a runtime error.
	query, ok := in["queryExpression"].(string)
	if !ok {
		return failure(Failed, "Missing 'queryExpression' in input parameters")
	}
	code, err := t.compile(query)
	if err != nil {
		var je *JQError
		if errors.As(err, &je) {
			return failure(Failed, maskCode(svc, je.Reason(), maxQuotedError))
		}
		return failure(Failed, mask(svc, err.Error()))
	}
	if t.opts.jqTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.opts.jqTimeout)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			res = failure(Failed, mask(svc, fmt.Sprintf("jq: internal error: %v", r)))
		}
	}()
	results := []any{}
	orders := newJQOrders()
	orders.recordInput(in)
	iter := code.RunWithContext(ctx, in, jqMaskerValue{svcMasker(svc)}, orders)
	for {
		v, ok := iter.Next()
		if !ok {
			break
		}
		if err, isErr := v.(error); isErr {
			var he *gojq.HaltError
			if errors.As(err, &he) && he.Value() == nil {
				break // "halt" ends the program without an error
			}
			if ctx.Err() != nil {
				return failure(Failed, mask(svc, "jq: "+ctx.Err().Error()))
			}
			return failure(Failed, t.runtimeReason(ctx, svc, query, in, err))
		}
		if t.opts.jqMaxResults > 0 && len(results) >= t.opts.jqMaxResults {
			return failure(Failed, fmt.Sprintf("jq: more than %d results", t.opts.jqMaxResults))
		}
		results = append(results, v)
	}
	return Result{Status: Completed, Output: jqOutput(results, orders)}
}

// prepareJackson rewrites a parsed query to run as Conductor's jq runs it:
// operators take their left side first and a negation that fails shows
// its input (jqorder.go), integers add, subtract and multiply as Java's
// longs (jqlong.go), an assignment takes
// only what jackson-jq takes (jqassign.go), an index reads only what
// jackson-jq reads (jqindexnum.go), the builtins jackson-jq lacks
// fail when called (jqbuiltins.go), and a caught message is masked
// (jqcatch.go).
//
// It returns the names q itself defines and binds (ownNames), before the
// definitions and bindings the rewrites add, for compileJackson.
func prepareJackson(q *gojq.Query) map[string]bool {
	own := ownNames(q)
	reserveVariables(q)
	delFieldAccess(q)
	if defs, err := gojq.Parse(jqNumericDefs + jqKeyOrderDefs + jqJacksonDefs); err == nil {
		// Before the query's own, which shadow them.
		q.FuncDefs = append(defs.FuncDefs, q.FuncDefs...)
	}
	rejectMissingBuiltins(q)
	javaTextFormats(q)
	objectShorthands(q)
	patternKeys(q)
	rejectAssignments(q)
	updateAssignments(q)
	caughtIndexes(q)
	strictIndexes(q)
	leftFirst(q)
	longArith(q)
	javaCompares(q)
	negateWithInput(q)
	maskCaught(q)
	eagerTries(q)
	keyOrders(q)
	if defs, err := gojq.Parse(jqStrictIndexDef); err == nil {
		q.FuncDefs = append(defs.FuncDefs, q.FuncDefs...)
	}
	if defs, err := gojq.Parse(jqEachDef); err == nil {
		q.FuncDefs = append(defs.FuncDefs, q.FuncDefs...)
	}
	return own
}

// compileJackson compiles a query prepareJackson rewrote. The functions
// and variables the query uses but nowhere defines fail when used, as in
// jackson-jq, which looks a name up when the call runs
// (tree/FunctionCall.java, tree/VariableAccess.java): such a query fails
// only if it gets there, where gojq would refuse to compile it. more are
// further compile options; q is rewritten in place.
func compileJackson(q *gojq.Query, own map[string]bool, more ...gojq.CompilerOption) (*gojq.Code, error) {
	for tries := 0; ; tries++ {
		c, err := gojq.Compile(q, jqCompileOptions(more...)...)
		if err == nil || tries == 64 {
			return c, err
		}
		var name string
		if fn, ok := strings.CutPrefix(err.Error(), "function not defined: "); ok {
			name = fn
		} else if v, ok := strings.CutPrefix(err.Error(), "variable not defined: "); ok {
			name = v
		}
		if name != "" && own[name] && hoistDefinition(q, name) {
			continue
		}
		if name == "" || !rejectUnknown(q, name, own) {
			return nil, err
		}
	}
}

// jqCompileOptions are the options every query compiles with: no process
// environment, and the builtins jackson-jq 0.0.13 has that gojq has not
// (jq.json there: leaf_paths, keys_unsorted).
func jqCompileOptions(more ...gojq.CompilerOption) []gojq.CompilerOption {
	return append(append([]gojq.CompilerOption{
		gojq.WithEnvironLoader(func() []string { return nil }),
		gojq.WithFunction(jqNegateFunc, 1, 1, jqNegateAt),
		gojq.WithFunction(jqCaughtFunc, 1, 1, jqCaught),
		gojq.WithVariables([]string{jqMaskerVar, jqOrdersVar}),
		jqFromJSONOption(),
	}, slices.Concat(jqLongOptions(), jqJavaTextOptions(), jqCompareOptions(), jqKeyOrderOptions(), jqCaughtOptions())...), more...)
}

// runtimeReason is the failure reason of a query that failed with err:
// jackson-jq's wording where wfrun knows it (jqerror.go), the key of an
// index placed by the diagnosis (jqindex.go), else gojq's message without
// its value previews. Masked whole (with the pieces of values), then cut.
func (t *JQTask) runtimeReason(ctx context.Context, svc *Services, query string, in any, err error) string {
	m := svcMasker(svc)
	if typ := jqErrorType(err); slices.Contains(jqIndexErrorTypes, typ) || typ == "func2WrapError" {
		if reason, ok := indexDiagnosis(ctx, m, query, in, t.opts.jqMaxResults); ok {
			return maskCode(svc, reason, maxQuotedError)
		}
	}
	if reason, ok := jacksonRuntimeReason(m, err); ok {
		return maskCode(svc, reason, maxQuotedError)
	}
	// Masked whole first, then its previews dropped (a cut of unmasked
	// text could leave a secret's head), then the pieces of values a
	// query cut out masked, then cut.
	return maskCut(nil, "jq: "+maskCode(svc, withoutPreviews(withoutCutPreviews(mask(svc, err.Error()))), 0), maxQuotedError)
}

// Validate checks that queryExpression is present and, when it is a
// literal, that it compiles.
func (t *JQTask) Validate(def json.RawMessage) []error {
	in, errs := defInputs(def)
	if errs != nil {
		return errs
	}
	q, ok, isStr := literalString(in["queryExpression"])
	switch {
	case !ok:
		return []error{fieldErr("inputParameters.queryExpression", "missing (required)")}
	case !isStr:
		return []error{fieldErr("inputParameters.queryExpression", "must be a string")}
	case strings.TrimSpace(q) == "":
		return []error{fieldErr("inputParameters.queryExpression", "must not be empty")}
	case isTemplate(q):
		return nil
	}
	if _, err := t.compile(q); err != nil {
		return []error{fieldErr("inputParameters.queryExpression", "%v", err)}
	}
	return nil
}

// jqTypes are the type names gojq puts before a value preview.
var jqTypes = [...]string{"null", "boolean", "number", "string", "array", "object"}

// withoutPreviews removes the value previews gojq writes into its runtime
// errors ("cannot iterate over: string (\"tok-3f9a7c...\")" becomes
// "cannot iterate over: string"). gojq cuts a preview at 30 bytes, so a
// secret value shows its head, which no masker can recognise once the tail
// is gone; the type says what went wrong without quoting the data.
func withoutPreviews(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); {
		matched := false
		for _, typ := range jqTypes {
			if strings.HasPrefix(msg[i:], typ+" (") {
				if end := previewEnd(msg, i+len(typ)+2); end > 0 {
					b.WriteString(typ)
					i = end
					matched = true
				}
				break
			}
		}
		if !matched {
			b.WriteByte(msg[i])
			i++
		}
	}
	return b.String()
}

// previewWidth is the most bytes a gojq value preview takes (gojq.Preview
// cuts at 30 bytes, on a rune boundary, and ends a cut one with " ...",
// ` ..."`, " ...]" or " ...}").
const previewWidth = 30

// withoutCutPreviews replaces each value preview gojq cut short by the
// kind of value it was. gojq quotes such previews without a type in front
// of them too ("tonumber cannot be applied to \"tok-3f9a7c ...\": ...",
// "ltrimstr(\"tok-3f9a ...\")"), and a cut string leaves the preview's
// quotes unbalanced, so no parse of the message finds where it ends: the
// cut marker does, and the preview starts at most previewWidth bytes
// before the marker's end.
func withoutCutPreviews(msg string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, " ...")
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(" ...")
		if end < len(msg) && (msg[end] == '"' || msg[end] == ']' || msg[end] == '}') {
			end++
		}
		start := max(0, end-previewWidth)
		// The preview starts with its value's first byte, after a space,
		// '(' or ';' (or at the start): the first such place in its window.
		for j := start; j <= i; j++ {
			if strings.IndexByte(`"[{-0123456789tfn`, msg[j]) >= 0 && (j == 0 || strings.IndexByte(" (;", msg[j-1]) >= 0) {
				start = j
				break
			}
		}
		kind := "number"
		switch msg[start] {
		case '"':
			kind = "string"
		case '[':
			kind = "array"
		case '{':
			kind = "object"
		}
		b.WriteString(msg[:start])
		b.WriteString(kind)
		msg = msg[end:]
	}
}

// previewEnd returns the index just after the ')' that closes a preview
// starting at start (inside the parenthesis), skipping JSON strings; 0 when
// there is none.
func previewEnd(s string, start int) int {
	depth, inStr := 0, false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return i + 1
			}
			depth--
		}
	}
	return 0
}
