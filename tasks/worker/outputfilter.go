package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/outputfilter"
)

// taskFilter is a polled task's outputFilter (Orkes), compiled from the
// poll's workflowTask — the task definition as the server holds it —, never
// from the polled inputData, which is run data the server resolved.
//
// A Conductor server does not know the filter: it hands the task over with
// the filter among its input and stores whatever the worker answers. So
// the worker applies it, as wfrun's engine does for its own tasks: the
// filter is resolved against the task's own raw output and its result
// replaces the output before the answer is cleaned (values masked,
// `_secrets` leaves sealed or removed). The whole response of an HTTP task
// with a filter never reaches the server; what the filter puts under
// `_secrets` (the rotation template's token) reaches it only sealed.
//
// A server that applies the filter itself (wfrun serve) takes it out of the
// input it hands over; the worker then leaves it to the server. A Conductor
// server hands it over among the input, and the worker applies it.
//
// The filter sees the task itself — {input: the polled inputData, output:
// the raw output} under its reference name — and the run's workflowId;
// the worker knows nothing else of the run, so a filter that reads another
// task is refused before the task runs.
type taskFilter struct {
	tmpl   *interpolate.Template
	checks [][]string
	refs   [2]string // the polled reference name, and the definition's (a DO_WHILE iteration's has a __N suffix)
}

// polledFilter reads the filter of a polled task (nil when it has none).
// An error refuses the task before it runs: a filter the worker cannot
// apply would let the whole output reach the server.
func polledFilter(kind string, t polledTask) (*taskFilter, error) {
	var in map[string]json.RawMessage
	if len(t.InputData) > 0 && json.Unmarshal(t.InputData, &in) != nil {
		in = nil
	}
	var def struct {
		TaskReferenceName string                     `json:"taskReferenceName"`
		InputParameters   map[string]json.RawMessage `json:"inputParameters"`
	}
	hasDef := len(t.WorkflowTask) > 0 && string(t.WorkflowTask) != "null" && json.Unmarshal(t.WorkflowTask, &def) == nil
	if !hasDef {
		if raw, ok := in[outputfilter.Key]; ok && !isNull(raw) {
			return nil, fmt.Errorf("inputData.%s: the poll carries no workflowTask, so the worker cannot read the filter from the task definition; the task is not run (its whole output would reach the server)", outputfilter.Key)
		}
		return nil, nil
	}
	if kind == tasks.TypeHTTP {
		var req map[string]json.RawMessage
		if json.Unmarshal(def.InputParameters["http_request"], &req) == nil {
			if raw, ok := req[outputfilter.Key]; ok && !isNull(raw) {
				return nil, fmt.Errorf("workflowTask.inputParameters.http_request.%s: outputFilter is read from inputParameters, beside http_request (as Orkes reads it): here it would be ignored and the whole response sent to the server; move it up one level", outputfilter.Key)
			}
		}
	}
	raw, ok := def.InputParameters[outputfilter.Key]
	if !ok || isNull(raw) {
		if polled, ok := in[outputfilter.Key]; ok && !isNull(polled) {
			return nil, fmt.Errorf("inputData.%s: the task definition the poll carries has no filter there, so the worker cannot read the filter from it; the task is not run (its whole output would reach the server)", outputfilter.Key)
		}
		return nil, nil
	}
	if _, ok := in[outputfilter.Key]; !ok {
		// The server took the filter out of the input it handed over: it
		// applies the filter itself to the answer (wfrun serve does, as
		// for its own tasks), and applying it here too would filter a
		// filtered output.
		return nil, nil
	}
	loc := "workflowTask.inputParameters." + outputfilter.Key
	p, err := outputfilter.Prepare(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	tmpl, err := interpolate.Compile(p.JSON, interpolate.WithLocation("/"+strings.ReplaceAll(loc, ".", "/")))
	if err != nil {
		return nil, err
	}
	f := &taskFilter{tmpl: tmpl, checks: p.Checks, refs: [2]string{t.ReferenceTaskName, def.TaskReferenceName}}
	for _, r := range tmpl.References() {
		if r != f.refs[0] && r != f.refs[1] {
			return nil, fmt.Errorf("%s reads task %q: a worker knows only the task it runs, so its filter may read only %q", loc, r, t.ReferenceTaskName)
		}
	}
	return f, nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// withoutFilter is the input the task's executor receives: the filter is
// the worker's to apply, and no HTTP server or command sees it. Deleted in
// place, so the rest keeps its bytes and key order.
func withoutFilter(input []byte) []byte {
	b, err := sjson.DeleteBytes(input, outputfilter.Key)
	if err != nil {
		return input
	}
	return b
}

// apply replaces res's output by the filter's result. A completed task
// whose filter cannot be resolved fails with output {} and a reason naming
// the filter, never a value; a failed one keeps the filtered output when
// the filter resolves and {} otherwise, and loses the part of its reason
// that quotes the raw output.
func (f *taskFilter) apply(ctx context.Context, t polledTask, res tasks.Result) tasks.Result {
	if res.Status != tasks.Completed && len(res.Output) == 0 {
		return res
	}
	if res.Status != tasks.Completed {
		res.Reason = outputfilter.WithholdReason(res.Reason, res.Output)
	}
	out, reason := f.run(ctx, t, res)
	if reason == "" {
		res.Output = out
		return res
	}
	if res.Status == tasks.Completed {
		return tasks.Result{Status: tasks.Failed, Output: json.RawMessage(`{}`),
			Reason: fmt.Sprintf("outputFilter of task %s: %s", t.ReferenceTaskName, reason)}
	}
	res.Output = json.RawMessage(`{}`)
	return res
}

func (f *taskFilter) run(ctx context.Context, t polledTask, res tasks.Result) ([]byte, string) {
	raw := res.Output
	if len(raw) == 0 {
		raw = json.RawMessage(`{}`)
	}
	if !json.Valid(raw) {
		return nil, "the task's output is not valid JSON"
	}
	input := t.InputData
	if len(input) == 0 || !json.Valid(input) {
		input = json.RawMessage(`{}`)
	}
	own, err := json.Marshal(map[string]any{"input": input, "output": raw, "status": string(res.Status),
		"taskId": t.TaskID, "referenceTaskName": t.ReferenceTaskName, "taskType": t.TaskType})
	if err != nil {
		return nil, "the task's output is not valid JSON"
	}
	doc, err := json.Marshal(map[string]any{
		"workflow": map[string]any{"workflowId": t.WorkflowInstanceID},
		"tasks":    map[string]json.RawMessage{f.refs[0]: own, f.refs[1]: own},
		"taskId":   t.TaskID,
	})
	if err != nil {
		return nil, "the task's output is not valid JSON"
	}
	env, err := interpolate.NewDocEnv(doc)
	if err != nil {
		return nil, "the task's output is not valid JSON"
	}
	// Secret references stay as written: a filter never copies a secret
	// into an output.
	out, _, err := f.tmpl.Execute(ctx, env, interpolate.DeferSecrets, nil)
	if err != nil {
		return nil, "cannot be resolved: " + outputfilter.ErrorText(err)
	}
	if reason := outputfilter.Check(out, f.checks); reason != "" {
		return nil, reason
	}
	return out, ""
}
