package engine_test

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// runReadingSecret runs def to completion on an engine whose bolt store
// holds the secret tok (value) and returns the run's view and how many
// times each task read tok, from the store's audit trail (the start's
// read left out).
func runReadingSecret(t *testing.T, value, def string) (runView, map[string]int) {
	t.Helper()
	g := newRig(t, "bolt", 2)
	g.put(t, "tok", value)
	e := g.boundaryEngine(t, keyring(t, 9), nil)
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, nil)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	b, ok := g.secrets.(interface {
		ReadAudit(context.Context, store.AuditFilter) ([]store.AuditEvent, error)
	})
	if !ok {
		t.Fatalf("%T has no audit trail", g.secrets)
	}
	evs, err := b.ReadAudit(context.Background(), store.AuditFilter{Run: res.RunID})
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string]int{}
	for _, ev := range evs {
		// The run's start reads tok once, for no task: it checks that its
		// definition holds no value of a secret it names (defvalues.go).
		if ev.Name == "tok" && ev.Task != "" {
			reads[ev.Task]++
		}
	}
	return viewRun(t, e, res.RunID), reads
}

// A SWITCH and a DECISION mapped with the task that encloses them (a
// SWITCH's case, a FORK's branch) are evaluated once, as Conductor's
// mapper evaluates each when the decide maps it: their input's secret is
// read once, one audit entry per task, though wfrun first checks whether a
// mapper of the decide throws (mapperthrow.go).
func TestNestedSwitchReadsItsSecretOnce(t *testing.T) {
	_, reads := runReadingSecret(t, "nested-switch-token-Hy6Ju8Ki0", `{"name":"nested_once","tasks":[
	  {"name":"outer","taskReferenceName":"outer","type":"SWITCH","evaluatorType":"value-param","expression":"k",
	   "inputParameters":{"k":"a"},
	   "decisionCases":{"a":[
	     {"name":"inner","taskReferenceName":"inner","type":"SWITCH","evaluatorType":"javascript",
	      "expression":"$.tok.length > 0 ? 'b' : 'c'","inputParameters":{"tok":"${workflow.secrets.tok}"},
	      "decisionCases":{"b":[
	        {"name":"dec","taskReferenceName":"dec","type":"DECISION","caseValueParam":"k",
	         "inputParameters":{"k":"x","tok":"${workflow.secrets.tok}"},
	         "decisionCases":{"x":[{"name":"sv","taskReferenceName":"sv","type":"SET_VARIABLE","inputParameters":{"v":1}}]}}]}}]}},
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[[
	     {"name":"fsw","taskReferenceName":"fsw","type":"SWITCH","evaluatorType":"value-param","expression":"k",
	      "inputParameters":{"k":"b","tok":"${workflow.secrets.tok}"},
	      "decisionCases":{"b":[
	        {"name":"fdec","taskReferenceName":"fdec","type":"DECISION","caseValueParam":"k",
	         "inputParameters":{"k":"x","tok":"${workflow.secrets.tok}"},
	         "decisionCases":{"x":[{"name":"fsv","taskReferenceName":"fsv","type":"SET_VARIABLE","inputParameters":{"w":1}}]}}]}}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["fsw"]}]}`)
	for _, ref := range []string{"inner", "dec", "fsw", "fdec"} {
		if reads[ref] != 1 {
			t.Errorf("%s read its secret %d times, want once (reads by task: %v)", ref, reads[ref], reads)
		}
	}
	if len(reads) != 4 {
		t.Errorf("secret reads by task: %v", reads)
	}
}

// A SWITCH whose input names its own task id (CPEWF_TASK_ID), mapped with
// the task that encloses it (a SWITCH's case, a FORK's branch), is
// resolved once, with its id, as Conductor's decider gives the mapper the
// task id it builds the task with (getTasksToBeScheduled): its secret is
// read once, and its case is evaluated with the id it is recorded with.
func TestSwitchNamingItsTaskIDReadsItsSecretOnce(t *testing.T) {
	sw := func(ref string) string {
		// Its cases' mapping may throw (a DYNAMIC): it is checked before
		// the task enclosing it is recorded.
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"SWITCH","evaluatorType":"javascript",
		  "expression":"$.id.length == 36 && $.tok.length > 0 ? 'b' : 'c'",
		  "inputParameters":{"id":"${CPEWF_TASK_ID}","tok":"${workflow.secrets.tok}"},
		  "decisionCases":{"b":[{"name":"` + ref + `_sv","taskReferenceName":"` + ref + `_sv","type":"SET_VARIABLE","inputParameters":{"` + ref + `":1}}],
		    "c":[{"name":"dyn","taskReferenceName":"` + ref + `_dyn","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{"tn":"nosuch"}}]}}`
	}
	v, reads := runReadingSecret(t, "switch-taskid-token-Qe4Rt5Yu6", `{"name":"taskid_once","tasks":[
	  {"name":"outer","taskReferenceName":"outer","type":"SWITCH","evaluatorType":"value-param","expression":"k",
	   "inputParameters":{"k":"a"},"decisionCases":{"a":[`+sw("inner")+`]}},
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[[`+sw("fsw")+`]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["fsw"]}]}`)
	for _, tk := range v.Tasks {
		if tk.Ref != "inner" && tk.Ref != "fsw" {
			continue
		}
		if tk.Input["id"] != tk.TaskID || tk.Output["selectedCase"] != "b" {
			t.Errorf("%s: id %v (task %s), case %v; want its own id and case b", tk.Ref, tk.Input["id"], tk.TaskID, tk.Output["selectedCase"])
		}
	}
	if reads["inner"] != 1 || reads["fsw"] != 1 || len(reads) != 2 {
		t.Errorf("secret reads by task: %v, want one by inner and one by fsw", reads)
	}
}
