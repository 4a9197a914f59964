package engine

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestSiblingChildTerminatedBetweenTasks: a parent's failure terminates a
// sibling's child that has not recorded the task it was about to run
// (started a moment ago, or between two tasks). Conductor's child has that
// task SCHEDULED already and its termination CANCELED it, so the re-open
// of the parent (updateAndPushParents) retries the child; siblingChild
// offers it for the retry too. Before, it was left ended, its parent's
// record stayed CANCELED and the re-opened parent terminated again at
// once ("Task … failed with status: TERMINATED"). A child that a TERMINATE
// task ended, or that ended otherwise with only successful tasks, is left.
func TestSiblingChildTerminatedBetweenTasks(t *testing.T) {
	ctx := context.Background()
	rs := runstore.NewMemory()
	e, err := New(WithRunStore(rs))
	if err != nil {
		t.Fatal(err)
	}
	done := `{"taskId":"t1","referenceTaskName":"a","taskType":"SIMPLE","status":"COMPLETED"}`
	for _, tc := range []struct {
		name, status, tasks string
		retried             bool
	}{
		{"terminated before its first task", StatusTerminated, ``, true},
		{"terminated between two tasks", StatusTerminated, done, true},
		{"terminated with a cancelled task", StatusTerminated, `{"taskId":"t1","referenceTaskName":"a","taskType":"SIMPLE","status":"CANCELED"}`, true},
		{"ended by its TERMINATE task", StatusTerminated, done + `,{"taskId":"t2","referenceTaskName":"end","taskType":"TERMINATE","status":"COMPLETED"}`, false},
		{"completed", StatusCompleted, done, false},
		{"failed with only successful tasks", StatusFailed, done, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "child-" + tc.name
			doc := `{"workflowId":"` + id + `","workflowName":"c","version":1,"status":"` + tc.status +
				`","parentWorkflowId":"p","parentWorkflowTaskId":"pt","tasks":[` + tc.tasks + `]}`
			if err := rs.Archive(ctx, id, withSealedHead(t, e, id, doc), runstore.Summary{Status: tc.status}); err != nil {
				t.Fatal(err)
			}
			er, running, err := e.siblingChild(ctx, id)
			if err != nil || running {
				t.Fatalf("siblingChild: running %v, %v", running, err)
			}
			if got := er != nil; got != tc.retried {
				t.Fatalf("retried in place: %v, want %v", got, tc.retried)
			}
		})
	}
}
