package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// headSizes records the size of the head and of the whole change of each
// commit while armed.
type headSizes struct {
	runstore.Store
	armed        atomic.Bool
	mu           sync.Mutex
	heads, sizes []int
}

func (s *headSizes) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if s.armed.Load() {
		s.mu.Lock()
		s.heads, s.sizes = append(s.heads, len(ch.Head)), append(s.sizes, ch.Size())
		s.mu.Unlock()
	}
	return s.Store.Commit(ctx, id, ch)
}

// TestRerunSiblingInputIsNotInEveryWrite: the records a rerun resets in
// place run with their stored input, which their records hold: the head,
// written with every save while they run, names them and does not carry
// their input (SPEC: a save persists what changed). 20 siblings with a
// 600-byte input each: no write of the rerun carries a head of 12 kB. The
// same for SUB_WORKFLOW siblings, whose records hold their child's input
// under workflowInput: each new child runs with it.
func TestRerunSiblingInputIsNotInEveryWrite(t *testing.T) {
	t.Run("tasks", func(t *testing.T) {
		rerunSiblingSizes(t, func(i int) string {
			return fmt.Sprintf(`[{"name":"w_side","taskReferenceName":"s%d","inputParameters":{"who":"s%d","k":"${workflow.input.k}"}}]`, i, i)
		})
	})
	t.Run("SUB_WORKFLOWs", func(t *testing.T) {
		rerunSiblingSizes(t, func(i int) string {
			return fmt.Sprintf(`[{"name":"sub","taskReferenceName":"s%d","type":"SUB_WORKFLOW","inputParameters":{"who":"s%d","k":"${workflow.input.k}"},
			 "subWorkflowParam":{"name":"rerun_note_size_child","workflowDefinition":{"name":"rerun_note_size_child","version":1,"schemaVersion":2,
			  "tasks":[{"name":"w_side","taskReferenceName":"inner","inputParameters":{"who":"${workflow.input.who}","k":"${workflow.input.k}"}}]}}}]`, i, i)
		})
	})
}

// rerunSiblingSizes runs n branches of branch(i), each reading a 600-byte
// workflow input, beside a task that fails; reruns from that task with a
// new workflow input; and checks that each branch ran again with its
// stored input and that no write of the rerun carries the branches' input
// in its head.
func rerunSiblingSizes(t *testing.T, branch func(i int) string) {
	const n, size = 20, 600
	var fail atomic.Bool
	var started atomic.Int32
	allStarted := make(chan struct{})
	var mu sync.Mutex
	gotIn := map[string]string{}
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &zero}, &engine.TaskDef{Name: "w_side", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	rs := &headSizes{Store: runstore.NewMemory()}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 9)),
		engine.WithWorker("w_side", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				if started.Add(1) == n {
					close(allStarted)
				}
				<-ctx.Done() // cancelled as the run fails
				return nil, ctx.Err()
			}
			var v struct{ Who, K string }
			_ = json.Unmarshal(in, &v)
			mu.Lock()
			gotIn[v.Who] = v.K
			mu.Unlock()
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("w_flaky", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				// Once every branch runs (each SUB_WORKFLOW has its child).
				select {
				case <-allStarted:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	var branches []string
	for i := 0; i < n; i++ {
		branches = append(branches, branch(i))
	}
	branches = append(branches, `[{"name":"w_flaky","taskReferenceName":"b"}]`)
	d, err := e.Parse([]byte(`{"name":"rerun_note_size","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[` + strings.Join(branches, ",") + `]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	v1 := strings.Repeat("a", size)
	fail.Store(true)
	res := startRun(t, e, d, `{"k":"`+v1+`"}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("first run: %+v", res)
	}
	_, before := rawTasks(t, e, res.RunID)
	from, _ := lastRecord(before, "b")["taskId"].(string)
	fail.Store(false)
	rs.armed.Store(true)
	r, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: from, WorkflowInput: json.RawMessage(`{"k":"v2"}`)})
	rs.armed.Store(false)
	if err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, r)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < n; i++ {
		if who := fmt.Sprintf("s%d", i); gotIn[who] != v1 {
			t.Errorf("%s ran with k %.10q..., want its stored input", who, gotIn[who])
		}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	total, maxHead := 0, 0
	for i, h := range rs.heads {
		total += rs.sizes[i]
		maxHead = max(maxHead, h)
	}
	t.Logf("%d writes, %d bytes in all (%d a write), largest head %d bytes", len(rs.sizes), total, total/max(1, len(rs.sizes)), maxHead)
	if maxHead >= n*size {
		t.Errorf("a write of the rerun carries a head of %d bytes: the siblings' input (%d bytes) rides with it", maxHead, n*size)
	}
}
