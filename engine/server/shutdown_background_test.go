package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
)

// startsHeldDef: a START_WORKFLOW task that starts held_started, whose
// HUMAN task waits.
const startsHeldDef = `[{"name":"starts_held","version":1,"schemaVersion":2,"tasks":[
 {"name":"start","taskReferenceName":"start","type":"START_WORKFLOW",
  "inputParameters":{"startWorkflow":{"name":"held_started","version":1,"input":{}}}}]},
 {"name":"held_started","version":1,"schemaVersion":2,"tasks":[
 {"name":"hold","taskReferenceName":"hold","type":"HUMAN"}]}]`

// TestShutdownStopsStartedRuns: Server.Shutdown stops the runs its engine
// started on its own (here a START_WORKFLOW task's run, waiting for its
// HUMAN task) as it stops its own runs: when it returns none executes any
// more, the run is RUNNING with its lease released, and another server
// on the same run store resumes it (decide) and finishes it.
func TestShutdownStopsStartedRuns(t *testing.T) {
	runs := runstore.NewMemory()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	ctlUpdateDefs(t, a, startsHeldDef)
	id := ctlStart(t, a, `{"name":"starts_held","version":1}`)
	d := ctlAwait(t, a, id, ctlStatus("COMPLETED"))
	started, _ := d.Tasks[0].OutputData["workflowId"].(string)
	if started == "" {
		t.Fatalf("START_WORKFLOW output %v", d.Tasks[0].OutputData)
	}
	ctlAwait(t, a, started, func(d ctlDoc) string {
		if d.Status != "RUNNING" || len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" {
			return "want the started run's HUMAN task IN_PROGRESS"
		}
		return ""
	})
	if got := a.srv.Engine().Started(); len(got) != 1 || got[0] != started {
		t.Fatalf("executing in the background: %v, want [%s]", got, started)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.srv.Engine().Started(); len(got) != 0 {
		t.Fatalf("still executing after Shutdown: %v", got)
	}
	sums, err := runs.List(ctx, runstore.ListOptions{Status: engine.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		if s.ID == started && s.Lease != nil {
			t.Fatalf("the started run keeps its lease after Shutdown: %v", s.Lease)
		}
	}

	b := newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)})
	if st, _, body := b.do(t, "PUT", "/api/workflow/decide/"+started, ""); st != 200 {
		t.Fatalf("decide: %d %s", st, body)
	}
	ctlAwait(t, b, started, func(d ctlDoc) string {
		if d.Status != "RUNNING" || len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" {
			return "want the resumed run's HUMAN task IN_PROGRESS"
		}
		return ""
	})
	if st, _, body := b.do(t, "POST", "/api/tasks/"+started+"/hold/COMPLETED", `{}`); st != 200 {
		t.Fatalf("complete hold through b: %d %s", st, body)
	}
	ctlAwait(t, b, started, ctlStatus("COMPLETED"))
}
