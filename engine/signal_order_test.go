package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// storedCount waits until s recorded n signal payloads.
func storedCount(t *testing.T, s *heldSignals, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d signals stored", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.payloads) >= n
	})
}

// TestTaskUpdatesAppliedInOrder: updates of a task waiting for its
// completion from outside (a WAIT, a HUMAN) stored before the runner takes
// them are applied in the order stored, as Conductor's updateTask applies
// each as it comes, and one that comes after the task ended changes
// nothing: a completion followed by an update IN_PROGRESS by reference
// still ends the task (the later update is not stored over it); two
// updates IN_PROGRESS by reference, {a} then {b}, both reach the task's
// output, and both callers are answered.
func TestTaskUpdatesAppliedInOrder(t *testing.T) {
	for i, typ := range []string{engine.TypeWait, engine.TypeHuman} {
		t.Run(typ+"/completed then IN_PROGRESS", func(t *testing.T) {
			id := fmt.Sprintf("5b0d7a4e-0000-4000-8000-0000000a%04d", i)
			held := &heldSignals{Store: runstore.NewMemory(), id: id, open: make(chan struct{})}
			h := newHarness(t, held)
			d, err := h.e.Parse([]byte(`{"name":"sig_order","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"` + typ + `"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			done := startAsync(t, h.e, d, id)
			awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress })
			if _, err := h.e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, json.RawMessage(`{"done":true}`)); err != nil {
				t.Fatal(err)
			}
			progress := make(chan error, 1)
			go func() {
				_, _, err := h.e.CompleteTaskStored(context.Background(), id, engine.Completion{Ref: "w", Status: engine.TaskInProgress, Output: json.RawMessage(`{"n":1}`)})
				progress <- err
			}()
			storedCount(t, held, 2)
			close(held.open)
			var res *engine.Result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				v := viewRun(t, h.e, id)
				_ = h.e.Terminate(context.Background(), id, "test")
				<-done
				t.Fatalf("the completion was lost: task %s output %v", v.Tasks[0].Status, v.Tasks[0].Output)
			}
			if err := <-progress; err != nil {
				t.Errorf("the update IN_PROGRESS after the completion: %v", err)
			}
			v := viewRun(t, h.e, id)
			if res.Status != engine.StatusCompleted || v.Tasks[0].Status != engine.TaskCompleted {
				t.Fatalf("run %s, task %s: want both COMPLETED", res.Status, v.Tasks[0].Status)
			}
			if out, _ := json.Marshal(v.Tasks[0].Output); string(out) != `{"done":true}` {
				t.Errorf("task output %s, want the completion's {\"done\":true}", out)
			}
		})
		t.Run(typ+"/IN_PROGRESS twice", func(t *testing.T) {
			id := fmt.Sprintf("5b0d7a4e-0000-4000-8000-0000000b%04d", i)
			held := &heldSignals{Store: runstore.NewMemory(), id: id, open: make(chan struct{})}
			h := newHarness(t, held)
			d, err := h.e.Parse([]byte(`{"name":"sig_order2","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"` + typ + `"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			done := startAsync(t, h.e, d, id)
			awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress })
			answers := make(chan error, 2)
			for n, out := range []string{`{"a":1}`, `{"b":2}`} {
				go func() {
					_, _, err := h.e.CompleteTaskStored(context.Background(), id, engine.Completion{Ref: "w", Status: engine.TaskInProgress, Output: json.RawMessage(out)})
					answers <- err
				}()
				storedCount(t, held, n+1)
			}
			close(held.open)
			for range 2 {
				select {
				case err := <-answers:
					if err != nil {
						t.Error(err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("an update IN_PROGRESS was not answered")
				}
			}
			v := awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 1 })
			if out, _ := json.Marshal(v.Tasks[0].Output); v.Tasks[0].Status != engine.TaskInProgress || string(out) != `{"a":1,"b":2}` {
				t.Errorf("task %s output %s, want IN_PROGRESS with both updates' members {\"a\":1,\"b\":2}", v.Tasks[0].Status, out)
			}
			if _, err := h.e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, nil); err != nil {
				t.Fatal(err)
			}
			if res := <-done; res.Status != engine.StatusCompleted {
				t.Errorf("run %s", res.Status)
			}
		})
	}
}
