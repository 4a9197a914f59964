package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// endedChildStore is a run store that, when a run's SUB_WORKFLOW record
// is first stored naming no child, stores under the child id derived from
// it a run of that record that has ended with status: the state a
// process leaves when it dies between its child's first write and the
// record's naming it, and the child then ends on its own (resumed by
// another process, or terminated).
type endedChildStore struct {
	runstore.Store
	status  string
	mu      sync.Mutex
	planted string
}

func (s *endedChildStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if err := s.Store.Commit(ctx, id, ch); err != nil {
		return err
	}
	for _, tk := range ch.Tasks {
		var rec struct {
			TaskID        string `json:"taskId"`
			TaskType      string `json:"taskType"`
			Status        string `json:"status"`
			SubWorkflowID string `json:"subWorkflowId"`
			RetryCount    int    `json:"retryCount"`
		}
		if json.Unmarshal(tk.Doc, &rec) != nil || rec.TaskType != engine.TypeSubWorkflow || rec.Status != engine.TaskScheduled || rec.SubWorkflowID != "" {
			continue
		}
		s.mu.Lock()
		done := s.planted != ""
		if !done {
			s.planted = conductorChildID(id, rec.TaskID, rec.RetryCount)
		}
		child := s.planted
		s.mu.Unlock()
		if done {
			continue
		}
		head := fmt.Sprintf(`{"workflowId":%q,"workflowType":"swc_child","version":1,"status":%q,"reasonForIncompletion":"ended on its own","parentWorkflowId":%q,"parentWorkflowTaskId":%q,"tasks":[]}`,
			child, s.status, id, rec.TaskID)
		if err := s.Store.Commit(ctx, child, &runstore.Change{
			Summary: runstore.Summary{ID: child, WorkflowType: "swc_child", Version: 1, Status: s.status, ParentID: id},
			Head:    []byte(head), Output: []byte(`{"from":"the ended child"}`),
		}); err != nil {
			return err
		}
	}
	return nil
}

// TestSubWorkflowFreshChildPastEndedOne: a SUB_WORKFLOW record that names
// no child yet, whose derived child id holds its own child that ended
// unsuccessfully (FAILED, TERMINATED, TIMED_OUT), starts a fresh child
// under another id and ends with that one, as Conductor's
// SubWorkflow.start does ("The deterministic ID collides with a
// previously-terminated child ... Start a fresh child"); one that
// COMPLETED is taken, its output the task's.
func TestSubWorkflowFreshChildPastEndedOne(t *testing.T) {
	for _, status := range []string{engine.StatusFailed, engine.StatusTerminated, engine.StatusTimedOut, engine.StatusCompleted} {
		t.Run(status, func(t *testing.T) {
			rs := &endedChildStore{Store: runstore.NewMemory(), status: status}
			// The planted child is written by hand, as an earlier wfrun
			// stored its runs (no head seal): believed only so.
			e := harnessEngine(t, rs, engine.WithUnsealedHeads(), engine.WithWorker("maybe", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				return json.RawMessage(`{"from":"the fresh child"}`), nil
			}))
			def, err := e.Parse([]byte(namedChildDef))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), def, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusCompleted {
				t.Fatalf("parent %s %q", res.Status, res.Reason)
			}
			v := viewRun(t, e, res.RunID)
			if len(v.Tasks) != 1 {
				t.Fatalf("%d SUB_WORKFLOW attempts, want 1: %+v", len(v.Tasks), v.Tasks)
			}
			sub := v.Tasks[0]
			want, from := rs.planted, "the ended child"
			if status != engine.StatusCompleted {
				from = "the fresh child"
				if sub.SubWorkflowID == rs.planted || sub.SubWorkflowID == "" {
					t.Fatalf("the task's child %q, want a fresh one (not %s)", sub.SubWorkflowID, rs.planted)
				}
				want = sub.SubWorkflowID
				c := viewRun(t, e, want)
				if c.Status != engine.StatusCompleted || len(c.Tasks) != 1 {
					t.Fatalf("fresh child: %s with %d tasks", c.Status, len(c.Tasks))
				}
			}
			if sub.Status != engine.TaskCompleted || sub.SubWorkflowID != want || sub.Output["from"] != from || sub.Output["subWorkflowId"] != want {
				t.Fatalf("the SUB_WORKFLOW task: %+v, want COMPLETED from %s with child %s", sub, from, want)
			}
		})
	}
}
