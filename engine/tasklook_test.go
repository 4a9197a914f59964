package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// wholeReadCount counts the whole-run reads (Load) of run id through it,
// and passes one-record reads (LoadTask) through.
type wholeReadCount struct {
	runstore.Store
	id    string
	loads atomic.Int64
}

func (w *wholeReadCount) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if id == w.id {
		w.loads.Add(1)
	}
	return w.Store.Load(ctx, id)
}

func (w *wholeReadCount) LoadTask(ctx context.Context, id string, seq int) ([]byte, []byte, bool, error) {
	return w.Store.(runstore.TaskReader).LoadTask(ctx, id, seq)
}

// A process that does not execute a run answers one of its attempts by id
// — a worker's update reaching another serve process, a poll of a task it
// offered — from that attempt's record: the run is not read whole, so an
// answer costs the same in a run of ten tasks or of thousands. The record
// is believed only when it is the attempt's: an id naming another record's
// place reads the run whole and finds nothing. On memory, bolt and a real
// redis-server.
func TestAnswerByIDReadsTheAttemptAlone(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			rs := mk()
			id := "5b0d7a4e-0000-4000-8000-00000000a7e1"
			k := keyring(t, 21)
			h := newHarness(t, rs, engine.WithKeyring(k), engine.WithRegistry(tasks.NewDefaultRegistry()))
			d, err := h.e.Parse([]byte(waitingChain(30)))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := h.e.Start(context.Background(), d, json.RawMessage(`{"start":1}`), engine.WithRunID(id))
				done <- err
			}()
			var taskID string
			waitFor(t, "the WAIT waits", func() bool {
				doc, err := h.e.Show(context.Background(), id)
				w := gjson.GetBytes(doc, `tasks.#(referenceTaskName=="w")`)
				taskID = w.Get("taskId").Str
				return err == nil && w.Get("status").Str == engine.TaskInProgress
			})
			// Another process sharing the store.
			count := &wholeReadCount{Store: rs, id: id}
			other := newHarness(t, count, engine.WithKeyring(k), engine.WithRegistry(tasks.NewDefaultRegistry())).e
			ctx := context.Background()

			if ok, err := other.TaskAttemptWaiting(ctx, id, taskID); err != nil || !ok {
				t.Fatalf("TaskAttemptWaiting = %v, %v; want true", ok, err)
			}
			st, err := other.StoredAttempt(ctx, id, taskID)
			if err != nil || !st.Found || st.RunStatus != engine.StatusRunning || st.Task.Type != engine.TypeWait || !st.Task.Open() || !st.Task.Awaiting {
				t.Fatalf("StoredAttempt = %+v, %v", st, err)
			}
			// An id that names the first record's place and is not its id.
			forged := "00000001-0000-4000-8000-000000000000"
			if _, err := other.CompleteTaskWith(ctx, id, engine.Completion{TaskID: forged, Status: engine.TaskCompleted}); !errors.Is(err, engine.ErrNotWaiting) {
				t.Fatalf("an answer to an id no record has: %v", err)
			}
			if n := count.loads.Load(); n != 1 {
				t.Fatalf("the forged id read the run whole %d times, want once (its record is not believed)", n)
			}
			count.loads.Store(0)

			if ref, err := other.CompleteTaskWith(ctx, id, engine.Completion{TaskID: taskID, Status: engine.TaskCompleted, Output: json.RawMessage(`{"ok":1}`)}); err != nil || ref != "w" {
				t.Fatalf("CompleteTaskWith = %q, %v", ref, err)
			}
			if n := count.loads.Load(); n != 0 {
				t.Fatalf("answering attempt %s read its run whole %d times", taskID, n)
			}
			awaitEnded(t, done, "the run")
			if ok, err := other.TaskAttemptWaiting(ctx, id, taskID); err != nil || ok {
				t.Fatalf("TaskAttemptWaiting after the end = %v, %v; want false", ok, err)
			}
			// Ended (and archived here): read whole, as an archived run is.
			if st, err := other.StoredAttempt(ctx, id, taskID); err != nil || st.RunStatus != engine.StatusCompleted || st.Task.Status != engine.TaskCompleted {
				t.Fatalf("StoredAttempt after the end = %+v, %v", st, err)
			}
		})
	}
}
