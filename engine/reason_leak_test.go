package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A secret value never names a task: a DYNAMIC task whose name comes from
// a `_secrets` leaf of an earlier output fails the run before any record
// of a task by that name is made, and neither the stored run nor the raw
// store holds the value.
func TestReasonForIncompletionIsMasked(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			g := newRig(t, backend, 2)
			tok := "tok-" + randHex(16)
			g.put(t, "tok", tok)
			e := g.engine(t, rotationRegistry(false))
			d, err := e.Parse([]byte(`{"name":"reason_leak","version":1,"tasks":[
 {"name":"pick","taskReferenceName":"pick","type":"INLINE","inputParameters":{"v":"${workflow.secrets.tok}",
  "evaluatorType":"javascript","expression":"({_secrets: {name: $.v}})"}},
 {"name":"dyn","taskReferenceName":"dyn","type":"DYNAMIC","dynamicTaskNameParam":"taskToExecute",
  "inputParameters":{"taskToExecute":"${pick.output.result._secrets.name}"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusFailed || res.Reason != "Cannot map a dynamic task: the task name in taskToExecute holds a secret value, which cannot name a task" {
				t.Fatalf("want FAILED for the secret name, got %s %q", res.Status, res.Reason)
			}
			g.leakCheck(t, e, nil, tok)
		})
	}
}

// Expressions that evaluate a secret input as program text fail with an
// error quoting its first token; SWITCH, INLINE and LAMBDA mask
// every piece of a value in that reason, and nothing stored holds one.
func TestEvaluatorErrorsMaskPiecesOfValues(t *testing.T) {
	for _, tc := range []struct{ name, task string }{
		{"SWITCH", `{"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"javascript","expression":"eval($.v)",
  "inputParameters":{"v":"${workflow.secrets.tok}"},"decisionCases":{"a":[]}}`},
		{"INLINE", `{"name":"in","taskReferenceName":"in","type":"INLINE","inputParameters":{"v":"${workflow.secrets.tok}",
  "evaluatorType":"javascript","expression":"eval($.v)"}}`},
		{"LAMBDA", `{"name":"la","taskReferenceName":"la","type":"LAMBDA","inputParameters":{"v":"${workflow.secrets.tok}",
  "scriptExpression":"return eval($.v);"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, "bolt", 2)
			tok := "tok_" + randHex(16) + "-tail"
			g.put(t, "tok", tok)
			e := g.engine(t, rotationRegistry(false))
			d, err := e.Parse([]byte(`{"name":"eval_leak","version":1,"tasks":[` + tc.task + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "*** is not defined") {
				t.Fatalf("want FAILED with a masked ReferenceError, got %s %q", res.Status, res.Reason)
			}
			g.leakCheck(t, e, nil, tok, tok[:20])
		})
	}
}

// An idempotency key is stored in clear (the run's head, the key claims)
// and quoted in conflict answers: a SUB_WORKFLOW key resolved from a secret
// (a `_secrets` output) fails the task instead. START_WORKFLOW reads its
// request from the task's masked input, so its key is "***" already. In
// neither case does anything stored hold the value.
func TestIdempotencyKeyFromASecretIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, task string }{
		{"SUB_WORKFLOW", `{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{
  "idempotencyKey":"${pick.output.result._secrets.k}","workflowDefinition":{"name":"child","version":1,"tasks":[
   {"name":"n","taskReferenceName":"n","type":"SET_VARIABLE","inputParameters":{"x":1}}]}}}`},
		{"START_WORKFLOW", `{"name":"start","taskReferenceName":"start","type":"START_WORKFLOW","inputParameters":{"startWorkflow":{
  "name":"child","idempotencyKey":"${pick.output.result._secrets.k}","workflowDef":{"name":"child","version":1,"tasks":[
   {"name":"n","taskReferenceName":"n","type":"SET_VARIABLE","inputParameters":{"x":1}}]}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, "bolt", 2)
			tok := "key-" + randHex(16)
			g.put(t, "tok", tok)
			e := g.engine(t, rotationRegistry(false))
			d, err := e.Parse([]byte(`{"name":"secret_key","version":1,"tasks":[
 {"name":"pick","taskReferenceName":"pick","type":"INLINE","inputParameters":{"v":"${workflow.secrets.tok}",
  "evaluatorType":"javascript","expression":"({_secrets: {k: $.v}})"}},` + tc.task + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "SUB_WORKFLOW" && (res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "idempotencyKey") || !strings.Contains(res.Reason, "holds a secret value")) {
				t.Fatalf("want FAILED naming the key, got %s %q", res.Status, res.Reason)
			}
			g.leakCheck(t, e, nil, tok)
		})
	}
}

// A LAMBDA whose script holds a secret value (a `_secrets` leaf of an
// earlier output) compiles when it runs; a script that does not compile
// fails with the parser's words, which can quote a piece of the value (a
// template literal's bad escape: `invalid escape: \u: "wxyz"`). The piece
// is masked, as evaluation errors' are.
func TestLambdaCompileErrorMasksPiecesOfValues(t *testing.T) {
	g := newRig(t, "bolt", 2)
	tok := "tok_" + randHex(16) + `\uwxyzQ-tail`
	g.put(t, "tok", tok)
	e := g.engine(t, rotationRegistry(false))
	d, err := e.Parse([]byte(`{"name":"lambda_compile_leak","version":1,"tasks":[
 {"name":"pick","taskReferenceName":"pick","type":"INLINE","inputParameters":{"v":"${workflow.secrets.tok}",
  "evaluatorType":"javascript","expression":"({_secrets: {k: $.v}})"}},
 {"name":"la","taskReferenceName":"la","type":"LAMBDA","inputParameters":{
  "scriptExpression":"return ` + "`" + `${pick.output.result._secrets.k}` + "`" + `;"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "invalid escape") {
		t.Fatalf("want FAILED with the script's compile error, got %s %q", res.Status, res.Reason)
	}
	if strings.Contains(res.Reason, "wxyz") {
		t.Fatalf("reason quotes a piece of the secret: %q", res.Reason)
	}
	g.leakCheck(t, e, nil, tok)
}
