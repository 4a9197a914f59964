package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/tasks"
)

func (w *wholeReadCount) LoadTaskRef(ctx context.Context, id, ref string) ([]byte, []byte, bool, error) {
	return w.Store.(runstore.RefReader).LoadTaskRef(ctx, id, ref)
}

// refLoop is a chain of n INLINE tasks, then a loop of 4 iterations
// keeping the last 2, each a WAIT "w" then an INLINE, then a WAIT "last".
func refLoop(n int) string {
	c := inlineChain(n)
	i := strings.LastIndex(c, `]`)
	return c[:i] + `,{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","inputParameters":{"keepLastN":2},
	  "loopCondition":"$.loop['iteration'] < 4",
	  "loopOver":[{"name":"w","taskReferenceName":"w","type":"WAIT"},
	    {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"expr","expression":"a","a":"${w.output.i}"}}]},
	  {"name":"last","taskReferenceName":"last","type":"WAIT"}` + c[i:]
}

// awaitEnded waits, at most 30 s, for the error sent on done when what (a
// run, a rerun, a resume executed in the background) ended, and fails t
// unless it ended without one.
func awaitEnded(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal(what + " did not end")
	}
}

// A process that does not execute a run answers one of its tasks by
// reference — Conductor's update by reference name, `wfrun task complete
// RUN REF` — from the record the run's reference index names: the run is
// not read whole, so an answer costs the same in a run of ten tasks or of
// thousands. A loop's task is answered by its reference without the
// iteration suffix, iteration after iteration, while the loop forgets the
// older ones (keepLastN). An index entry naming a record that does not
// carry the reference is not believed: the run is read whole and the
// answer goes where it belongs. On memory, bolt and a real redis-server.
func TestAnswerByRefReadsTheRecordAlone(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			rs := mk()
			id := "5b0d7a4e-0000-4000-8000-00000000a7e2"
			k := keyring(t, 22)
			h := newHarness(t, rs, engine.WithKeyring(k), engine.WithRegistry(tasks.NewDefaultRegistry()))
			d, err := h.e.Parse([]byte(refLoop(30)))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := h.e.Start(context.Background(), d, json.RawMessage(`{"start":1}`), engine.WithRunID(id))
				done <- err
			}()
			ctx := context.Background()
			waiting := func(ref string) (taskID string, seq int) {
				waitFor(t, ref+" waits", func() bool {
					doc, err := h.e.Show(ctx, id)
					r := gjson.GetBytes(doc, `tasks.#(referenceTaskName=="`+ref+`")`)
					taskID, seq = r.Get("taskId").Str, int(r.Get("seq").Int())
					return err == nil && r.Get("status").Str == engine.TaskInProgress
				})
				return taskID, seq
			}
			// Another process sharing the store.
			count := &wholeReadCount{Store: rs, id: id}
			other := newHarness(t, count, engine.WithKeyring(k), engine.WithRegistry(tasks.NewDefaultRegistry())).e

			for i := 1; i <= 4; i++ {
				exact := fmt.Sprintf("w__%d", i)
				taskID, _ := waiting(exact)
				st, err := other.StoredPending(ctx, id, "w")
				if err != nil || !st.Found || st.Task.TaskID != taskID || st.Task.Ref != exact || st.RunStatus != engine.StatusRunning {
					t.Fatalf("iteration %d: StoredPending(w) = %+v, %v", i, st, err)
				}
				if got, err := other.CompleteTask(ctx, id, "w", engine.TaskCompleted, json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))); err != nil || got != exact {
					t.Fatalf("iteration %d: CompleteTask(w) = %q, %v", i, got, err)
				}
				if n := count.loads.Load(); n != 0 {
					t.Fatalf("iteration %d: answering w read the run whole %d times", i, n)
				}
			}
			waiting("last")
			// The index names another record for "last" (w__4's, ended,
			// authentic): not believed.
			doc, err := h.e.Show(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			w4 := int(gjson.GetBytes(doc, `tasks.#(referenceTaskName=="w__4").seq`).Int())
			if err := rs.Commit(ctx, id, &runstore.Change{Summary: summaryOf(t, rs, id), Refs: []runstore.RefEntry{{Ref: "last", Seq: w4}}}); err != nil {
				t.Fatal(err)
			}
			if st, err := other.StoredPending(ctx, id, "last"); err != nil || st.Found {
				t.Fatalf("StoredPending(last) through a forged entry = %+v, %v; want not found", st, err)
			}
			if got, err := other.CompleteTaskWith(ctx, id, engine.Completion{Ref: "last", Status: engine.TaskCompleted, Output: json.RawMessage(`{"done":true}`)}); err != nil || got != "last" {
				t.Fatalf("CompleteTaskWith(last) = %q, %v", got, err)
			}
			if n := count.loads.Load(); n != 1 {
				t.Fatalf("the forged entry read the run whole %d times, want once", n)
			}
			awaitEnded(t, done, "the run")
			doc, err = h.e.Show(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if s := gjson.GetBytes(doc, "status").Str; s != engine.StatusCompleted {
				t.Fatalf("run %s", s)
			}
			for i := 3; i <= 4; i++ {
				if got := gjson.GetBytes(doc, fmt.Sprintf(`tasks.#(referenceTaskName=="after__%d").outputData.result`, i)).Int(); got != int64(i) {
					t.Fatalf("after__%d read w's output %d, want %d", i, got, i)
				}
			}
			if got := gjson.GetBytes(doc, `tasks.#(referenceTaskName=="last").outputData.done`).Bool(); !got {
				t.Fatalf("last's output: %s", gjson.GetBytes(doc, `tasks.#(referenceTaskName=="last")`).Raw)
			}
			if _, err := other.CompleteTask(ctx, id, "w", engine.TaskCompleted, nil); !errors.Is(err, engine.ErrNotRunning) {
				t.Fatalf("an answer after the end: %v", err)
			}

			// A rerun from the last iteration's WAIT writes the run whole,
			// its index too: w names that WAIT again, then last its new
			// record.
			w4id := gjson.GetBytes(doc, `tasks.#(referenceTaskName=="w__4").taskId`).Str
			go func() {
				_, err := h.e.Rerun(context.Background(), id, w4id)
				done <- err
			}()
			waiting("w__4")
			count.loads.Store(0)
			if got, err := other.CompleteTask(ctx, id, "w", engine.TaskCompleted, json.RawMessage(`{"i":40}`)); err != nil || got != "w__4" {
				t.Fatalf("after the rerun: CompleteTask(w) = %q, %v", got, err)
			}
			waiting("last")
			if got, err := other.CompleteTask(ctx, id, "last", engine.TaskCompleted, nil); err != nil || got != "last" {
				t.Fatalf("after the rerun: CompleteTask(last) = %q, %v", got, err)
			}
			if n := count.loads.Load(); n != 0 {
				t.Fatalf("after the rerun: answers by reference read the run whole %d times", n)
			}
			awaitEnded(t, done, "the rerun")
			if doc, err = h.e.Show(ctx, id); err != nil || gjson.GetBytes(doc, `tasks.#(referenceTaskName=="after__4").outputData.result`).Int() != 40 {
				t.Fatalf("after the rerun: %v %s", err, gjson.GetBytes(doc, `tasks.#(referenceTaskName=="after__4")`).Raw)
			}
		})
	}
}

// summaryOf is run id's List entry.
func summaryOf(t *testing.T, rs runstore.Store, id string) runstore.Summary {
	t.Helper()
	all, err := rs.List(context.Background(), runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.ID == id {
			s.Lease = nil
			return s
		}
	}
	t.Fatalf("run %s is not listed", id)
	return runstore.Summary{}
}

// A run resumed by another process (its first stopped) keeps its
// reference index: that process knows which entries name which records,
// moves them as its loop forgets iterations, and answers by reference
// still read no run whole.
func TestAnswerByRefAfterResume(t *testing.T) {
	stores := visibleStores(t)
	// On redis the index's entries are read as they are stored: those of
	// the forgotten iterations are gone, not left behind for good.
	var client *redis.Client
	stores["redis"] = func() runstore.Store {
		client = redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
		t.Cleanup(func() { client.Close() })
		return runstore.NewRedis(client)
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			rs := mk()
			id := "5b0d7a4e-0000-4000-8000-00000000a7e3"
			k := keyring(t, 23)
			a := newHarness(t, rs, engine.WithKeyring(k), engine.WithRegistry(tasks.NewDefaultRegistry())).e
			d, err := a.Parse([]byte(refLoop(5)))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			stop, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := a.Start(stop, d, json.RawMessage(`{"start":1}`), engine.WithRunID(id))
				done <- err
			}()
			count := &wholeReadCount{Store: rs, id: id}
			other := newHarness(t, count, engine.WithKeyring(k), engine.WithRegistry(tasks.NewDefaultRegistry())).e
			waiting := func(ref string) {
				waitFor(t, ref+" waits", func() bool {
					st, err := other.StoredPending(ctx, id, ref)
					return err == nil && st.Found && st.Task.Status == engine.TaskInProgress
				})
			}
			waiting("w__1")
			if _, err := other.CompleteTask(ctx, id, "w", engine.TaskCompleted, json.RawMessage(`{"i":1}`)); err != nil {
				t.Fatal(err)
			}
			waiting("w__2")
			cancel()
			if err := <-done; !errors.Is(err, engine.ErrInterrupted) {
				t.Fatalf("the stopped run: %v", err)
			}
			b := newHarness(t, rs, engine.WithKeyring(k), engine.WithRegistry(tasks.NewDefaultRegistry())).e
			go func() {
				_, err := b.Resume(ctx, id)
				done <- err
			}()
			for i := 2; i <= 4; i++ {
				waiting(fmt.Sprintf("w__%d", i))
				if got, err := other.CompleteTask(ctx, id, "w", engine.TaskCompleted, json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))); err != nil || got != fmt.Sprintf("w__%d", i) {
					t.Fatalf("iteration %d after the resume: %q, %v", i, got, err)
				}
			}
			waiting("last")
			// The iterations the loop forgot are not named any more.
			rr := rs.(runstore.RefReader)
			if _, task, _, err := rr.LoadTaskRef(ctx, id, "w__1"); err != nil || task != nil {
				t.Fatalf("w__1, forgotten before the stop: %s, %v", task, err)
			}
			if _, task, _, err := rr.LoadTaskRef(ctx, id, "w__2"); err != nil || task != nil {
				t.Fatalf("w__2, forgotten after the resume: %s, %v", task, err)
			}
			if name == "redis" {
				fields, err := client.HKeys(ctx, "wfrun:{wfrun-runs}:p:"+id).Result()
				if err != nil {
					t.Fatal(err)
				}
				var refs []string
				for _, f := range fields {
					if strings.HasPrefix(f, "r:") {
						refs = append(refs, f)
					}
				}
				slices.Sort(refs)
				if want := "r:after r:after__3 r:after__4 r:last r:loop r:t0 r:t1 r:t2 r:t3 r:t4 r:w r:w__3 r:w__4"; strings.Join(refs, " ") != want {
					t.Fatalf("index entries stored: %s\nwant %s", strings.Join(refs, " "), want)
				}
			}
			if _, err := other.CompleteTask(ctx, id, "last", engine.TaskCompleted, nil); err != nil {
				t.Fatal(err)
			}
			if n := count.loads.Load(); n != 0 {
				t.Fatalf("answers by reference read the run whole %d times", n)
			}
			awaitEnded(t, done, "the resumed run")
		})
	}
}
