package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// pinChild is version v of the child pin_child: its output names v.
func pinChild(v string) string {
	return `{"name":"pin_child","version":` + v + `,"schemaVersion":2,"outputParameters":{"v":"v` + v + `"},"tasks":[
	  {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`
}

// pinParent holds SUB_WORKFLOW tasks naming pin_child: without a version
// at the top, in a SWITCH case, a fork branch and a DO_WHILE; with the
// version 0, given and from an expression. The worker gate runs first.
const pinParent = `{"name":"pin_parent","version":1,"schemaVersion":2,"tasks":[
  {"name":"gate","taskReferenceName":"gate","type":"SIMPLE"},
  {"name":"top","taskReferenceName":"top","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"pin_child"}},
  {"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"value-param","expression":"c","inputParameters":{"c":"a"},
   "decisionCases":{"a":[{"name":"incase","taskReferenceName":"incase","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"pin_child","version":null}}]}},
  {"name":"fk","taskReferenceName":"fk","type":"FORK_JOIN","forkTasks":[
    [{"name":"inbranch","taskReferenceName":"inbranch","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"pin_child","version":""}}]]},
  {"name":"jn","taskReferenceName":"jn","type":"JOIN","joinOn":["inbranch"]},
  {"name":"lp","taskReferenceName":"lp","type":"DO_WHILE","loopCondition":"false","loopOver":[
    {"name":"inloop","taskReferenceName":"inloop","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"pin_child"}}]},
  {"name":"zero","taskReferenceName":"zero","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"pin_child","version":0}},
  {"name":"zeroexpr","taskReferenceName":"zeroexpr","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"pin_child","version":"${workflow.input.zero}"}}]}`

// pinRig is a definitions directory holding pin_child version 1 and
// pin_parent, and an engine whose worker gate registers pin_child
// version 2 once (between the parent's start and its SUB_WORKFLOW tasks).
func pinRig(t *testing.T) (*harness, string) {
	t.Helper()
	dir := t.TempDir()
	writeDefs(t, dir, pinChild("1"), pinParent)
	h := newHarness(t, runstore.NewMemory(), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir),
		engine.WithWorker("gate", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			f := filepath.Join(dir, "pin_child_v2.json")
			if _, err := os.Stat(f); err != nil {
				if err := os.WriteFile(f, []byte(pinChild("2")), 0o600); err != nil {
					return nil, err
				}
			}
			return json.RawMessage(`{}`), nil
		}))
	return h, dir
}

// childVersions is, by the reference of each SUB_WORKFLOW record of run
// id, the version its child ran (its output's v) and the
// subWorkflowVersion its input shows.
func childVersions(t *testing.T, e *engine.Engine, id string) map[string]string {
	t.Helper()
	wf := viewRun(t, e, id)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("run %s %q", wf.Status, wf.Reason)
	}
	got := map[string]string{}
	for _, tk := range wf.Tasks {
		if tk.SubWorkflowID == "" {
			continue
		}
		child := viewRun(t, e, tk.SubWorkflowID)
		v, _ := json.Marshal(tk.Input["subWorkflowVersion"])
		got[tk.Ref] = child.Output["v"].(string) + " shown " + string(v)
	}
	return got
}

// TestSubWorkflowVersionPinnedAtStart: Conductor's MetadataMapperService
// pins, when the run starts, every SUB_WORKFLOW task of the definition
// named without a version (at the top, in a decision case, a fork branch,
// a loop) to its name's latest version then: version 2, registered after
// the start, is not what they run. A version given as 0 (as such or from
// an expression) is not pinned: SubWorkflow.start reads it as none, the
// latest when the task starts (version 2), and the record shows the 0 the
// mapper wrote (SubWorkflowInlineTests testVersionZeroTreatedAsLatest).
// A restart runs the definition the run kept, pins included; a restart
// with the latest definitions pins again.
func TestSubWorkflowVersionPinnedAtStart(t *testing.T) {
	h, _ := pinRig(t)
	res := h.run(pinParent, `{"zero":"0"}`)
	want := map[string]string{"top": "v1 shown 1", "incase": "v1 shown 1", "inbranch": "v1 shown 1", "inloop__1": "v1 shown 1",
		"zero": "v2 shown 0", "zeroexpr": "v2 shown 0"}
	check := func(what string, got map[string]string, want map[string]string) {
		t.Helper()
		b, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(b) != string(w) {
			t.Fatalf("%s: children %s, want %s", what, b, w)
		}
	}
	check("started", childVersions(t, h.e, res.RunID), want)

	ctx := context.Background()
	if _, err := h.e.Restart(ctx, res.RunID, true); err != nil {
		t.Fatal(err)
	}
	check("restarted", childVersions(t, h.e, res.RunID), want)

	if _, err := h.e.RestartWith(ctx, res.RunID, engine.RestartOptions{UseLatestDefinitions: true}); err != nil {
		t.Fatal(err)
	}
	for ref := range want {
		want[ref] = strings.Replace(want[ref], "v1 shown 1", "v2 shown 2", 1)
	}
	check("restarted with the latest definitions", childVersions(t, h.e, res.RunID), want)
}

// TestSubWorkflowStartRefusedWithoutDefinition: a SUB_WORKFLOW task of the
// definition named without a version whose name has no definition refuses
// the run's start with MetadataMapperService's words, wherever the task is
// (a case never taken too, a task whose definition an expression gives);
// nothing is stored. A name from an expression is looked up as written
// (TestSubWorkflowExpressionNamePinnedAsWritten); a version given as 0 is not:
// the task fails as SubWorkflow.start's start of the latest does ("version=null").
// A child whose own definition names one is refused: its task FAILS with
// those words, as SubWorkflow.start fails it.
func TestSubWorkflowStartRefusedWithoutDefinition(t *testing.T) {
	rs := runstore.NewMemory()
	h := newHarness(t, rs, engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(t.TempDir()))
	ctx := context.Background()
	const want = "The Task nope_wf defined as a sub-workflow has no workflow definition available "
	for _, def := range []string{
		`{"name":"refused","version":1,"schemaVersion":2,"tasks":[{"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"nope_wf"}}]}`,
		`{"name":"refused","version":1,"schemaVersion":2,"tasks":[{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"c",
		  "inputParameters":{"c":"other"},"decisionCases":{"never":[{"name":"lp","taskReferenceName":"lp","type":"DO_WHILE","loopCondition":"false","loopOver":[
		  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"nope_wf"}}]}]}}]}`,
		// A definition from an expression: the name is still pinned
		// (SubWorkflowParams.getVersion is null; Conductor's own tests
		// give such tasks a version).
		`{"name":"refused","version":1,"schemaVersion":2,"tasks":[{"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW",
		  "subWorkflowParam":{"name":"nope_wf","workflowDefinition":"${workflow.input.def}"}}]}`,
	} {
		d, err := h.e.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.e.Start(ctx, d, json.RawMessage(`{}`)); err == nil || err.Error() != want {
			t.Fatalf("start: %v, want %q", err, want)
		}
	}
	if sums, err := h.e.List(ctx, runstore.ListOptions{}); err != nil || len(sums) != 0 {
		t.Fatalf("runs stored: %v %v", sums, err)
	}

	for _, tc := range []struct{ param, reason string }{
		{`{"name":"nope_wf","version":0}`, "No such workflow defined. name=nope_wf, version=null"},
		{`{"name":"inl","workflowDefinition":{"name":"inl","version":1,"schemaVersion":2,"tasks":[
		  {"name":"sw2","taskReferenceName":"sw2","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"nope_wf"}}]}}`, want},
	} {
		res := h.run(`{"name":"started","version":1,"schemaVersion":2,"tasks":[
		  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":`+tc.param+`}]}`, `{}`)
		wf := viewRun(t, h.e, res.RunID)
		if wf.Status != engine.StatusFailed || len(wf.Tasks) != 1 || wf.Tasks[0].Status != engine.TaskFailed || wf.Tasks[0].Reason != tc.reason {
			t.Fatalf("%s: run %s, tasks %+v; want FAILED, sw FAILED %q", tc.param, wf.Status, wf.Tasks, tc.reason)
		}
	}
}

// TestSubWorkflowStartRefusalNamesFirstInConductorOrder: of several
// SUB_WORKFLOW tasks named without a version whose names have no
// definition, the start's refusal names the first in the order Conductor's
// WorkflowDef.collectTasks lists them, where populateTaskDefinitions
// throws: each task before the tasks nested in it, a SWITCH's cases in the
// order the definition writes them and then its default case, a fork's
// branches in order, a loop's body, and the next task after all those
// (a name given by an expression too, looked up as written). Each name
// given a definition, the refusal names the next. wfrun named the first
// in name order.
func TestSubWorkflowStartRefusalNamesFirstInConductorOrder(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, runstore.NewMemory(), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir))
	sub := func(ref, name string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"` + name + `"}}`
	}
	def, err := h.e.Parse([]byte(`{"name":"order","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"value-param","expression":"c","inputParameters":{"c":"x"},
	   "decisionCases":{"z":[` + sub("s1", "m_zcase") + `],"a":[` + sub("s2", "m_acase") + `]},"defaultCase":[` + sub("s3", "m_default") + `]},
	  {"name":"fk","taskReferenceName":"fk","type":"FORK_JOIN","forkTasks":[
	    [{"name":"lp","taskReferenceName":"lp","type":"DO_WHILE","loopCondition":"false","loopOver":[` + sub("s4", "m_nested") + `]},` + sub("s5", "m_fork1") + `],
	    [` + sub("s6", "m_fork0") + `]]},
	  {"name":"jn","taskReferenceName":"jn","type":"JOIN","joinOn":["s5","s6"]},
	  {"name":"lp2","taskReferenceName":"lp2","type":"DO_WHILE","loopCondition":"false","loopOver":[` + sub("s7", "m_loop") + `]},
	  ` + sub("s8", "${workflow.input.child}") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"m_zcase", "m_acase", "m_default", "m_nested", "m_fork1", "m_fork0", "m_loop", "${workflow.input.child}"} {
		want := "The Task " + name + " defined as a sub-workflow has no workflow definition available "
		if _, err := h.e.Start(context.Background(), def, json.RawMessage(`{"child":"m_loop"}`)); err == nil || err.Error() != want {
			t.Fatalf("start: %v, want %q", err, want)
		}
		b, _ := json.Marshal(name)
		writeDefs(t, dir, `{"name":`+string(b)+`,"version":1,"schemaVersion":2,"tasks":[{"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`)
	}
}

// TestSubWorkflowExpressionNamePinnedAsWritten: a SUB_WORKFLOW task whose
// name an expression gives, without a version, is pinned when the run
// starts as Conductor's populateVersionForSubWorkflow pins it: the name is
// looked up as written, "${workflow.input.child}". Without a definition of
// that name the start is refused, though the name the expression gives has
// one; with one (version 2 here), the task starts the name the expression
// gives at that version, as SubWorkflowTaskMapper resolves the name and
// keeps the version: pin_child version 2, not its latest, 3. wfrun looked
// the resolved name up when the task started, running version 3.
func TestSubWorkflowExpressionNamePinnedAsWritten(t *testing.T) {
	dir := t.TempDir()
	writeDefs(t, dir, pinChild("1"), pinChild("2"), pinChild("3"))
	h := newHarness(t, runstore.NewMemory(), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir))
	const parent = `{"name":"p","version":1,"schemaVersion":2,"tasks":[
	  {"name":"top","taskReferenceName":"top","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"${workflow.input.child}"}}]}`
	d, err := h.e.Parse([]byte(parent))
	if err != nil {
		t.Fatal(err)
	}
	const want = "The Task ${workflow.input.child} defined as a sub-workflow has no workflow definition available "
	if _, err := h.e.Start(context.Background(), d, json.RawMessage(`{"child":"pin_child"}`)); err == nil || err.Error() != want {
		t.Fatalf("start: %v, want %q", err, want)
	}
	writeDefs(t, dir, `{"name":"${workflow.input.child}","version":2,"schemaVersion":2,"tasks":[{"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`)
	res := h.run(parent, `{"child":"pin_child"}`)
	if got := childVersions(t, h.e, res.RunID)["top"]; got != "v2 shown 2" {
		t.Fatalf("child ran %q, want v2 shown 2", got)
	}
}
