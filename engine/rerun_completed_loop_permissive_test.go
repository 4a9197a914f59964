package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// TestRerunInsideACompletedLoopGoesOnPastAFailure: a rerun from the first
// task of an iteration of a DO_WHILE that completed, a task that fails
// again, permissive or optional. Conductor's decider does not fail the
// run on it (retry() schedules nothing and throws nothing for such a
// task; an optional one is COMPLETED_WITH_ERRORS) and schedules its next
// task in the iteration (getNextTask), which runs; no DoWhile.execute
// judges the iteration (the loop stays COMPLETED) and, at the iteration's
// last task, the loop is found recorded. The permissive task's failure
// fails the run once nothing is left to schedule; the optional one's
// lets it complete. Before, the failure skipped the rest of the
// iteration. The task that runs after it reads a secret: it gets its
// value, and the stored run never holds it.
func TestRerunInsideACompletedLoopGoesOnPastAFailure(t *testing.T) {
	for _, c := range []struct {
		flag, status, record string
	}{
		{"permissive", engine.StatusFailed, engine.TaskFailed},
		{"optional", engine.StatusCompleted, engine.TaskCompletedWithErrors},
	} {
		t.Run(c.flag, func(t *testing.T) {
			var fail atomic.Bool
			var mu sync.Mutex
			var ran []string
			gate := newRestoreGate()
			e := loopKindsEngine(t, gate, &fail, func(s string) {
				mu.Lock()
				ran = append(ran, s)
				mu.Unlock()
			})
			d, err := e.Parse([]byte(`{"name":"rerun_completed_loop_goes_on","version":1,"schemaVersion":2,"tasks":[
			 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
			  "loopOver":[
			   {"name":"w_after","taskReferenceName":"p","` + c.flag + `":true},
			   {"name":"w_b","taskReferenceName":"b","inputParameters":{"tok":"${workflow.secrets.api_token}"}}]},
			 {"name":"w_c","taskReferenceName":"end"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res := startRun(t, e, d, `{}`)
			_, before := rawTasks(t, e, res.RunID)
			loop, from := lastRecord(before, "loop"), lastRecord(before, "p__1")
			if res.Status != engine.StatusCompleted || loop == nil || loop["iteration"] != float64(2) || from == nil {
				t.Fatalf("first run: %+v %v", res, before)
			}
			fail.Store(true) // p fails from here on
			mu.Lock()
			ran = nil
			mu.Unlock()
			rr, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: from["taskId"].(string)})
			if err != nil || rr.Status != c.status || (c.status == engine.StatusFailed && !strings.Contains(rr.Reason, "boom")) {
				t.Fatalf("rerun: %v %+v, want %s", err, rr, c.status)
			}
			_, after := rawTasks(t, e, res.RunID)
			sameCompletedLoop(t, "after the rerun", lastRecord(after, "loop"), loop)
			var refs []string
			for _, tk := range after {
				refs = append(refs, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
			}
			if want := fmt.Sprintf("[loop:COMPLETED p__1:%s b__1:COMPLETED end:COMPLETED]", c.record); fmt.Sprint(refs) != want {
				t.Errorf("records after the rerun: %v\nwant %s", refs, want)
			}
			mu.Lock()
			got := append([]string(nil), ran...)
			mu.Unlock()
			sort.Strings(got)
			if want := fmt.Sprintf(`[after{} b{"tok":%q} c{}]`, loopKindsToken); fmt.Sprint(got) != want {
				t.Errorf("tasks run by the rerun: %v, want %s", got, want)
			}
			raw, _, err := gate.Load(context.Background(), res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(loopKindsToken)) || bytes.Contains(raw, []byte(loopKindsToken[:12])) {
				t.Errorf("the stored run holds the secret")
			}
		})
	}
}
