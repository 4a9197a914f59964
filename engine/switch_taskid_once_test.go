package engine_test

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// A SWITCH whose input names its own task id (CPEWF_TASK_ID), mapped with
// the task that encloses it (a SWITCH's case, a FORK's branch), is
// resolved once, with its id, as Conductor's decider gives the mapper the
// task id it builds the task with (getTasksToBeScheduled): its secret is
// read once, and its case is evaluated with the id it is recorded with.
func TestSwitchNamingItsTaskIDReadsItsSecretOnce(t *testing.T) {
	g := newRig(t, "bolt", 2)
	g.put(t, "tok", "switch-taskid-token-Qe4Rt5Yu6")
	e := g.boundaryEngine(t, keyring(t, 9), nil)
	sw := func(ref string) string {
		// Its cases' mapping may throw (a DYNAMIC): it is checked before
		// the task enclosing it is recorded.
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"SWITCH","evaluatorType":"javascript",
		  "expression":"$.id.length == 36 && $.tok.length > 0 ? 'b' : 'c'",
		  "inputParameters":{"id":"${CPEWF_TASK_ID}","tok":"${workflow.secrets.tok}"},
		  "decisionCases":{"b":[{"name":"` + ref + `_sv","taskReferenceName":"` + ref + `_sv","type":"SET_VARIABLE","inputParameters":{"` + ref + `":1}}],
		    "c":[{"name":"dyn","taskReferenceName":"` + ref + `_dyn","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{"tn":"nosuch"}}]}}`
	}
	d, err := e.Parse([]byte(`{"name":"taskid_once","tasks":[
	  {"name":"outer","taskReferenceName":"outer","type":"SWITCH","evaluatorType":"value-param","expression":"k",
	   "inputParameters":{"k":"a"},"decisionCases":{"a":[` + sw("inner") + `]}},
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[[` + sw("fsw") + `]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["fsw"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, nil)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	v := viewRun(t, e, res.RunID)
	for _, tk := range v.Tasks {
		if tk.Ref != "inner" && tk.Ref != "fsw" {
			continue
		}
		if tk.Input["id"] != tk.TaskID || tk.Output["selectedCase"] != "b" {
			t.Errorf("%s: id %v (task %s), case %v; want its own id and case b", tk.Ref, tk.Input["id"], tk.TaskID, tk.Output["selectedCase"])
		}
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
		if ev.Name == "tok" {
			reads[ev.Task]++
		}
	}
	t.Logf("secret reads by task: %v", reads)
	if reads["inner"] != 1 || reads["fsw"] != 1 || len(reads) != 2 {
		t.Errorf("secret reads by task: %v, want one by inner and one by fsw", reads)
	}
}
