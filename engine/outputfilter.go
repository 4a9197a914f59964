package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/outputfilter"
)

// outputFilterKey is the inputParameters key of Orkes' outputFilter.
const outputFilterKey = outputfilter.Key

// outputFilter is a task's compiled inputParameters.outputFilter (Orkes).
//
// In the definition the filter's expressions are escaped ($${ref.output.x})
// so that input resolution leaves them alone: the stored inputData shows the
// filter as ${ref.output.x} text. After the task ran, the filter is resolved
// against the task's own raw output and its result replaces the output, so
// only what the filter selects is ever masked, sealed and persisted (the
// rotation template keeps a token out of the store this way:
// {"_secrets":{"token":"$${retrieve_token.output.response.body.token}"}}).
//
// The filter is compiled once, when the definition loads, from the ORIGINAL
// source with one level of escape removed. It is never compiled from the
// resolved input: a value that came from run data and happens to contain
// "${...}" must stay data, not turn into an expression.
type outputFilter struct {
	tmpl *interpolate.Template
	// checks are the JSON pointers (as segments) of the filter's string
	// values that hold an expression: a whole expression that resolves to
	// null there means the task's output lacks what the filter selects.
	checks [][]string
}

// misplacedOutputFilter refuses an HTTP task's outputFilter written inside
// http_request. The filter is read from inputParameters only, where Orkes
// reads it; inside the request it would be ignored and the whole response
// stored, the very thing a filter that keeps a token under _secrets is
// written to prevent. A definition that does not mean what it says is
// refused, not run.
func (v *validator) misplacedOutputFilter(t *WorkflowTask, in map[string]json.RawMessage) {
	if t.Type != tasks.TypeHTTP && t.Type != tasks.TypeHTTPPoll {
		return
	}
	var req map[string]json.RawMessage
	if json.Unmarshal(in["http_request"], &req) != nil {
		return
	}
	if raw, ok := req[outputFilterKey]; ok && !rawIsNull(raw) {
		v.add(t.loc+"/inputParameters/http_request/"+outputFilterKey,
			"outputFilter is read from inputParameters, beside http_request (as Orkes reads it): here it would be ignored and the whole response stored; move it up one level")
	}
}

// outputFilter compiles t's inputParameters.outputFilter, if any. Problems
// are reported at /…/inputParameters/outputFilter like any other template
// problem (unterminated expressions, references to unknown tasks).
func (v *validator) outputFilter(t *WorkflowTask) {
	if len(t.InputParameters) == 0 || t.InputParameters[0] != '{' {
		return
	}
	var in map[string]json.RawMessage
	if json.Unmarshal(t.InputParameters, &in) != nil {
		return
	}
	v.misplacedOutputFilter(t, in)
	raw, ok := in[outputFilterKey]
	if !ok || rawIsNull(raw) {
		return
	}
	loc := t.loc + "/inputParameters/" + outputFilterKey
	switch t.Type {
	case TypeSwitch, TypeDecision, TypeDoWhile, TypeForkJoin, TypeSubWorkflow:
		// Their outputs are the engine's own bookkeeping (selected case,
		// iterations, child run id), read back on resume.
		v.add(loc, "outputFilter is not supported on %s tasks", t.Type)
		return
	}
	p, err := outputfilter.Prepare(raw)
	if err != nil {
		v.add(loc, "%v", err)
		return
	}
	f := &outputFilter{checks: p.Checks}
	src := p.JSON
	f.tmpl = v.compile(src, loc)
	if f.tmpl == nil {
		return
	}
	t.outputFilter = f
}

func rawIsNull(b []byte) bool {
	s := bytes.TrimSpace(b)
	return len(s) == 0 || string(s) == "null"
}

// withoutOutputFilter returns the transient input an executor receives: the
// outputFilter key is wfrun's (the engine applies it), so it is removed and
// never reaches an HTTP server, a worker or a command. The stored inputData
// keeps it as written.
func withoutOutputFilter(wt *WorkflowTask, input []byte) []byte {
	if wt.outputFilter == nil || !bytes.Contains(input, []byte(`"`+outputFilterKey+`"`)) {
		return input
	}
	// Deleted in place: the rest of the input keeps its bytes and its key
	// order (a decode/re-encode would sort the keys and change the body an
	// HTTP task sends and SigV4 signs).
	b, err := sjson.DeleteBytes(input, outputFilterKey)
	if err != nil {
		return input
	}
	return b
}

// applyOutputFilter replaces a task attempt's raw output by its
// outputFilter's result before anything is masked, sealed or persisted.
//
// A completed attempt whose filter cannot be resolved (an expression error,
// a selected value that is missing or null, a result that is not an object)
// becomes a FAILED attempt (retryCount applies) with output {} and a reason
// that names the filter location, never a value. A failed attempt keeps the
// filtered output when the filter resolves and {} otherwise: the raw output
// of a task with an outputFilter is never stored.
func (r *runState) applyOutputFilter(ctx context.Context, wt *WorkflowTask, rec *taskRecord, res tasks.Result) tasks.Result {
	f := wt.outputFilter
	if f == nil {
		return res
	}
	if res.Status != tasks.Completed && len(res.Output) == 0 {
		return res
	}
	if res.Status != tasks.Completed {
		// A failure reason may quote the raw output (the HTTP task adds a
		// body excerpt): that part is withheld like the output itself.
		res.Reason = outputfilter.WithholdReason(res.Reason, res.Output)
	}
	out, reason := r.runOutputFilter(ctx, wt, rec, res)
	if reason == "" {
		res.Output = out
		return res
	}
	if res.Status == tasks.Completed {
		return tasks.Result{Status: tasks.Failed, Output: json.RawMessage(`{}`),
			Reason: fmt.Sprintf("outputFilter of task %s: %s", rec.Ref, reason)}
	}
	res.Output = json.RawMessage(`{}`)
	return res
}

// runOutputFilter resolves the filter. The task's own reference (with and
// without a DO_WHILE "__N" suffix) reads {input: stored input, output: raw
// output}; every other reference reads the run as usual. Secret references
// stay unresolved (DeferSecrets): a filter never turns into a way to copy a
// secret into a task output.
func (r *runState) runOutputFilter(ctx context.Context, wt *WorkflowTask, rec *taskRecord, res tasks.Result) ([]byte, string) {
	raw := res.Output
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	if !json.Valid(raw) {
		return nil, "the task's output is not valid JSON"
	}
	r.mu.Lock()
	own := *rec
	own.outMem, own.Status = raw, string(res.Status)
	doc := taskEnvDoc(r, &own)
	r.mu.Unlock()
	env := &filterEnv{runEnv: runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues},
		refs: [2]string{rec.Ref, wt.TaskReferenceName}, own: doc}
	out, _, err := wt.outputFilter.tmpl.Execute(ctx, env, interpolate.DeferSecrets, nil)
	if err != nil {
		return nil, "cannot be resolved: " + outputfilter.ErrorText(err)
	}
	if reason := outputfilter.Check(out, wt.outputFilter.checks); reason != "" {
		return nil, reason
	}
	return out, ""
}

// filterEnv is the interpolate.Env of an outputFilter: the run, except that
// the task being filtered shows its raw output.
type filterEnv struct {
	runEnv
	refs [2]string
	own  []byte
}

func (e *filterEnv) Task(ref string) ([]byte, bool) {
	if ref == e.refs[0] || ref == e.refs[1] {
		return e.own, true
	}
	return e.runEnv.Task(ref)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	}
	return "an object"
}
