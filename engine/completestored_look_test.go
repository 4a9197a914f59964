package engine_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// lookCount counts what the caller of CompleteTaskStored reads while it
// waits (the calls made with its context, marked by lookKey) once its
// update is stored, and holds the runner's TakeSignals until the caller
// has looked at the store three times.
type lookCount struct {
	runstore.Store
	tr        runstore.TaskReader
	mu        sync.Mutex
	stored    bool // the update is stored: the caller waits
	loads     int  // whole-run reads of the waiting caller
	taskReads int  // LoadTask calls of the waiting caller
	looks     int  // its looks (one TakeSlot each)
	open      chan struct{}
	// foreign, when set, makes LoadTask give a record of another attempt
	// (storage is not trusted: the caller must not believe it).
	foreign bool
}

type lookKey struct{}

func (s *lookCount) waiting(ctx context.Context) bool {
	return ctx.Value(lookKey{}) != nil && s.stored
}

func (s *lookCount) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	err := s.Store.PutSignal(ctx, id, key, payload)
	if ctx.Value(lookKey{}) != nil {
		s.mu.Lock()
		s.stored = true
		s.mu.Unlock()
	}
	return err
}

func (s *lookCount) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	s.mu.Lock()
	stored := s.stored
	s.mu.Unlock()
	if stored {
		select {
		case <-s.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.TakeSignals(ctx, id)
}

func (s *lookCount) TakeSlot(ctx context.Context, id, key string) (map[string][]byte, error) {
	s.mu.Lock()
	if s.waiting(ctx) {
		if s.looks++; s.looks == 3 {
			close(s.open)
		}
	}
	s.mu.Unlock()
	return s.Store.TakeSlot(ctx, id, key)
}

func (s *lookCount) Load(ctx context.Context, id string) ([]byte, bool, error) {
	s.mu.Lock()
	if s.waiting(ctx) {
		s.loads++
	}
	s.mu.Unlock()
	return s.Store.Load(ctx, id)
}

func (s *lookCount) LoadTask(ctx context.Context, id string, seq int) ([]byte, []byte, bool, error) {
	s.mu.Lock()
	if s.waiting(ctx) {
		s.taskReads++
	}
	foreign := s.foreign
	s.mu.Unlock()
	head, task, archived, err := s.tr.LoadTask(ctx, id, seq)
	if foreign && task != nil {
		task = []byte(`{"seq":` + strconv.Itoa(seq) + `,"taskId":"another-attempt","status":"COMPLETED"}`)
	}
	return head, task, archived, err
}

var _ runstore.TaskReader = (*lookCount)(nil)

// TestCompleteTaskStoredLooksAtItsTask: while the caller of
// CompleteTaskStored waits for the runner's answer, each look at the store
// reads the run's head and the attempt's record (runstore.TaskReader), not
// the whole run, whose size grows with its tasks, log and definition. A
// record that is not the attempt's (a store that cannot be trusted gives
// another) is not believed: the look reads the run whole then, and the
// caller still waits for its answer.
func TestCompleteTaskStoredLooksAtItsTask(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		name := "own record"
		if foreign {
			name = "foreign record"
		}
		t.Run(name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000c13a"
			mem := runstore.NewMemory()
			rs := &lookCount{Store: mem, tr: mem, open: make(chan struct{}), foreign: foreign}
			h := newHarness(t, rs)
			d, err := h.e.Parse([]byte(`{"name":"look_task","version":1,"schemaVersion":2,"tasks":[
				{"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{"x":1}},
				{"name":"b","taskReferenceName":"b","type":"SET_VARIABLE","inputParameters":{"y":2}},
				{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			done := startAsync(t, h.e, d, id)
			awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 3 && v.Tasks[2].Status == engine.TaskInProgress })
			ctx := context.WithValue(context.Background(), lookKey{}, true)
			ref, _, err := h.e.CompleteTaskStored(ctx, id, engine.Completion{Ref: "w", Status: engine.TaskInProgress, Output: json.RawMessage(`{"n":1}`)})
			if err != nil || ref != "w" {
				t.Fatalf("CompleteTaskStored = %q, %v", ref, err)
			}
			rs.mu.Lock()
			loads, taskReads, looks := rs.loads, rs.taskReads, rs.looks
			rs.mu.Unlock()
			if looks < 3 {
				t.Fatalf("the caller returned after %d looks, before the runner took its update", looks)
			}
			wantLoads := 0
			if foreign {
				wantLoads = taskReads // each look falls back to the whole run
			}
			if taskReads < 2 || loads != wantLoads {
				t.Fatalf("while waiting (%d looks): %d whole-run reads, %d task reads; want %d whole-run reads and at least 2 task reads", looks, loads, taskReads, wantLoads)
			}
			v := awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 3 && v.Tasks[2].Output["n"] != nil })
			if v.Tasks[2].Status != engine.TaskInProgress {
				t.Fatalf("task %s", v.Tasks[2].Status)
			}
			if _, err := h.e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			if res := <-done; res.Status != engine.StatusCompleted {
				t.Fatalf("run %s", res.Status)
			}
		})
	}
}
