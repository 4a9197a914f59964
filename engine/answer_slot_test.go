package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// slotCount counts, for every signal slot, the members stored and not
// taken yet.
type slotCount struct {
	runstore.Store
	mu   sync.Mutex
	held map[string]map[string]bool
	// The runner's TakeSignals of run id waits until open is closed
	// (open nil: it does not).
	id   string
	open chan struct{}
}

func (s *slotCount) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	s.mu.Lock()
	if s.held[id] == nil {
		s.held[id] = map[string]bool{}
	}
	s.held[id][key] = true
	s.mu.Unlock()
	return s.Store.PutSignal(ctx, id, key, payload)
}

func (s *slotCount) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	if s.open != nil && id == s.id {
		select {
		case <-s.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m, err := s.Store.TakeSignals(ctx, id)
	if err == nil {
		s.mu.Lock()
		delete(s.held, id)
		s.mu.Unlock()
	}
	return m, err
}

// TestAnswerSlotLeftByCallerStaysEmpty: the caller of CompleteTaskStored
// that stops waiting before the runner applied its update (a client gone,
// the server's wait ended) leaves no answer slot behind: the runner writes
// no answer nobody would take, and nothing of the updates stays in the
// run store once the run ended. The runner takes the updates only once
// every caller is gone (a caller giving up while the runner answers is a
// window this test does not hold).
func TestAnswerSlotLeftByCallerStaysEmpty(t *testing.T) {
	id := "5b0d7a4e-0000-4000-8000-00000000a51f"
	rs := &slotCount{Store: runstore.NewMemory(), held: map[string]map[string]bool{}, id: id, open: make(chan struct{})}
	h := newHarness(t, rs)
	d, err := h.e.Parse([]byte(`{"name":"slot_left","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := startAsync(t, h.e, d, id)
	awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress })
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the caller is gone at once
		if _, _, err := h.e.CompleteTaskStored(ctx, id, engine.Completion{Ref: "w", Status: engine.TaskInProgress, Output: json.RawMessage(`{"n":1}`)}); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	close(rs.open) // every caller is gone: the runner takes the updates
	waitFor(t, "the runner took the updates", func() bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return len(rs.held[id]) == 0
	})
	v := awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 1 && v.Tasks[0].Output["n"] != nil })
	if v.Tasks[0].Status != engine.TaskInProgress {
		t.Fatalf("task %s", v.Tasks[0].Status)
	}
	if _, err := h.e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.Status != engine.StatusCompleted {
		t.Fatalf("run %s", res.Status)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for slot, keys := range rs.held {
		if strings.HasPrefix(slot, id) {
			t.Errorf("signal slot %s holds %v after the run ended", slot, keys)
		}
	}
}

// TestAnswerSlotOfDroppedUpdateStaysEmpty: an update IN_PROGRESS stored
// after a completion the runner had not taken yet is dropped (the task
// has ended); its caller, gone already, leaves nothing in the run store
// either.
func TestAnswerSlotOfDroppedUpdateStaysEmpty(t *testing.T) {
	id := "5b0d7a4e-0000-4000-8000-00000000a52f"
	rs := &slotCount{Store: runstore.NewMemory(), held: map[string]map[string]bool{}, id: id, open: make(chan struct{})}
	h := newHarness(t, rs)
	d, err := h.e.Parse([]byte(`{"name":"slot_dropped","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := startAsync(t, h.e, d, id)
	awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress })
	if _, err := h.e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the caller is gone at once
	if _, _, err := h.e.CompleteTaskStored(ctx, id, engine.Completion{Ref: "w", Status: engine.TaskInProgress, Output: json.RawMessage(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	close(rs.open)
	if res := <-done; res.Status != engine.StatusCompleted {
		t.Fatalf("run %s", res.Status)
	}
	waitFor(t, "no slot of the run holds anything", func() bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		for slot := range rs.held {
			if strings.HasPrefix(slot, id) {
				return false
			}
		}
		return true
	})
}
