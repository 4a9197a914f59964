package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// writeDefs writes each definition into dir as <name>_<i>.json.
func writeDefs(t *testing.T, dir string, defs ...string) {
	t.Helper()
	for i, d := range defs {
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal([]byte(d), &head); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, head.Name+"_"+string(rune('a'+i))+".json")
		if err := os.WriteFile(f, []byte(d), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSubWorkflowWithoutWorkflowInputGetsTheTaskInput: Conductor's
// SubWorkflow.start hands the child the task's whole inputData when its
// workflowInput is null or empty (TestSubWorkflow
// testStartSubWorkflowWithEmptyWorkflowInputUsesTaskInput): the child's
// name, version, the subWorkflowParam members, workflowInput {} — and,
// for an inline definition, that definition with _systemMetadata.dynamic.
// A task whose input has members hands the child those alone.
func TestSubWorkflowWithoutWorkflowInputGetsTheTaskInput(t *testing.T) {
	dir := t.TempDir()
	writeDefs(t, dir, `{"name":"wi_child","version":2,"schemaVersion":2,"tasks":[
	  {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"v":1}}]}`)
	h := newHarness(t, nil, engine.WithDefinitionsDir(dir))
	parent := func(param, input string) string {
		return `{"name":"wi_parent","version":1,"schemaVersion":2,"tasks":[
		  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW"` + input + `,"subWorkflowParam":` + param + `}]}`
	}
	childInput := func(def string) (runView, map[string]any) {
		t.Helper()
		res := h.run(def, `{"x":"7"}`)
		wf := viewRun(t, h.e, res.RunID)
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("%s %q", wf.Status, wf.Reason)
		}
		return wf, viewRun(t, h.e, wf.Tasks[0].SubWorkflowID).Input
	}

	for _, in := range []string{``, `,"inputParameters":{}`} {
		wf, got := childInput(parent(`{"name":"wi_child","version":2,"priority":3}`, in))
		want, _ := json.Marshal(wf.Tasks[0].Input)
		b, _ := json.Marshal(got)
		jsonEq(t, b, string(want))
		jsonEq(t, b, `{"subWorkflowName":"wi_child","subWorkflowVersion":2,"priority":3,"subWorkflowTaskToDomain":null,
		  "subWorkflowDefinition":null,"idempotencyKey":null,"idempotencyStrategy":null,"workflowInput":{}}`)
	}

	// Inline: the task's input with the definition, marked dynamic.
	_, got := childInput(parent(`{"name":"wi_inline","workflowDefinition":{"name":"wi_inline","version":1,"schemaVersion":2,"tasks":[
	  {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"v":1}}]}}`, ``))
	def, _ := got["subWorkflowDefinition"].(map[string]any)
	meta, _ := got["_systemMetadata"].(map[string]any)
	if got["subWorkflowName"] != "wi_inline" || def["name"] != "wi_inline" || meta["dynamic"] != true || got["workflowInput"] == nil {
		t.Fatalf("inline child's input %v", got)
	}

	// With members, the child gets them alone.
	_, got = childInput(parent(`{"name":"wi_child","version":2}`, `,"inputParameters":{"x":"${workflow.input.x}"}`))
	b, _ := json.Marshal(got)
	jsonEq(t, b, `{"x":"7"}`)
}

// TestSubWorkflowTaskInputToChildKeepsSecretsOut: the task's whole input,
// handed to a child without workflowInput, holds an inline definition
// built at run time from a secret's value (under `_secrets`: outside, the
// definition is refused, TestSubWorkflowDefinitionFromAMaskedOutputIsRefused);
// the child's stored input (and every stored byte of both runs) keeps it
// out, as any run input.
func TestSubWorkflowTaskInputToChildKeepsSecretsOut(t *testing.T) {
	rs := runstore.NewMemory()
	h := newHarness(t, rs, engine.WithRegistry(tasks.NewDefaultRegistry()))
	res := h.run(`{"name":"wi_secret","version":1,"schemaVersion":2,"tasks":[
	  {"name":"mk","taskReferenceName":"mk","type":"INLINE","inputParameters":{"tok":"${workflow.secrets.api_token}","evaluatorType":"javascript",
	    "expression":"({name:'wi_built',version:1,schemaVersion:2,tasks:[{name:'set',taskReferenceName:'set',type:'SET_VARIABLE',inputParameters:{_secrets:{k:$.tok}}}]})"}},
	  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"wi_built","version":1,"workflowDefinition":"${mk.output.result}"}}]}`, `{}`)
	wf := viewRun(t, h.e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	child := viewRun(t, h.e, wf.Tasks[1].SubWorkflowID)
	if meta, _ := child.Input["_systemMetadata"].(map[string]any); meta["dynamic"] != true || child.Input["subWorkflowDefinition"] == nil {
		t.Fatalf("child's input %v", child.Input)
	}
	for _, id := range []string{res.RunID, wf.Tasks[1].SubWorkflowID} {
		doc, _, err := rs.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		show, _ := h.e.Show(context.Background(), id)
		for _, b := range [][]byte{doc, show} {
			if bytes.Contains(b, []byte(token)) {
				t.Fatalf("run %s holds the secret's value", id)
			}
		}
	}
}
