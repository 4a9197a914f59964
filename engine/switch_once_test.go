package engine_test

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// A SWITCH and a DECISION mapped with the task that encloses them (a
// SWITCH's case, a FORK's branch) are evaluated once, as Conductor's
// mapper evaluates each when the decide maps it: their input's secret is
// read once, one audit entry per task, though wfrun first checks whether a
// mapper of the decide throws (mapperthrow.go).
func TestNestedSwitchReadsItsSecretOnce(t *testing.T) {
	g := newRig(t, "bolt", 2)
	g.put(t, "tok", "nested-switch-token-Hy6Ju8Ki0")
	e := g.boundaryEngine(t, keyring(t, 9), nil)
	d, err := e.Parse([]byte(`{"name":"nested_once","tasks":[
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
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["fsw"]}]}`))
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
		if ev.Name == "tok" {
			reads[ev.Task]++
		}
	}
	for _, ref := range []string{"inner", "dec", "fsw", "fdec"} {
		if reads[ref] != 1 {
			t.Errorf("%s read its secret %d times, want once (reads by task: %v)", ref, reads[ref], reads)
		}
	}
	if len(reads) != 4 {
		t.Errorf("secret reads by task: %v", reads)
	}
}
