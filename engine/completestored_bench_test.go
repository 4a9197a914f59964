package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// wholeRunReads hides a store's TaskReader: CompleteTaskStored's looks
// read the run whole, as they did before runstore.TaskReader.
type wholeRunReads struct{ runstore.Store }

// waitingChain is a chain of n-1 INLINE tasks and a WAIT: a run of n
// tasks whose last waits for its completion from outside.
func waitingChain(n int) string {
	c := inlineChain(n - 1)
	i := strings.LastIndex(c, `]`)
	return c[:i] + `,{"name":"w","taskReferenceName":"w","type":"WAIT"}` + c[i:]
}

// startWaiting starts waitingChain(n) and returns its id and the WAIT's
// attempt id and seq, once the WAIT waits.
func startWaiting(b *testing.B, e *engine.Engine, n int) (id, taskID string, seq int) {
	b.Helper()
	d, err := e.Parse([]byte(waitingChain(n)))
	if err != nil {
		b.Fatal(err)
	}
	id = fmt.Sprintf("5b0d7a4e-0000-4000-8000-%012d", n)
	go func() { _, _ = e.Start(context.Background(), d, json.RawMessage(`{"start":1}`), engine.WithRunID(id)) }()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		doc, err := e.Show(context.Background(), id)
		if err != nil {
			continue
		}
		w := gjson.GetBytes(doc, `tasks.#(referenceTaskName=="w")`)
		if w.Get("status").Str == engine.TaskInProgress {
			return id, w.Get("taskId").Str, int(w.Get("seq").Int())
		}
	}
	b.Fatalf("run %s: the WAIT does not wait", id)
	return
}

// BenchmarkCompleteTaskStored measures an update IN_PROGRESS of the last
// task of a run of 10, 100 and 1000 tasks, by CompleteTaskStored, which
// waits for the runner (this engine) to store it, looking at the store
// meanwhile: look=run reads the run whole at each look (a store without
// runstore.TaskReader, as every store was read before), look=task reads
// the run's head and the attempt's record. ns/op is mostly the wait
// between looks (20 ms first); B/op and allocs/op show what a completion
// costs, including the read that finds the task: its record alone, found
// through the seq its id carries (tasklook.go), on look=task; the run
// whole on look=run.
//
// look=ref answers by reference ("w", no attempt id), as Conductor's
// update by reference name does: the record is found through the run's
// reference index (refindex.go); before it, by reference read the run
// whole, as look=run does.
//
// BenchmarkCompleteTaskStored/look-only is the look alone
// (attemptEnded), on the same runs.
func BenchmarkCompleteTaskStored(b *testing.B) {
	for _, st := range []string{"memory", "bolt", "redis"} {
		for _, n := range []int{10, 100, 1000} {
			for _, look := range []string{"run", "task", "ref"} {
				b.Run(fmt.Sprintf("store=%s/tasks=%d/look=%s", st, n, look), func(b *testing.B) {
					rs := benchStore(b, st)
					if look == "run" {
						rs = wholeRunReads{rs}
					}
					e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
					if err != nil {
						b.Fatal(err)
					}
					id, taskID, seq := startWaiting(b, e, n)
					b.Run("complete", func(b *testing.B) {
						b.ReportAllocs()
						for i := 0; i < b.N; i++ {
							out := json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
							c := engine.Completion{TaskID: taskID, Status: engine.TaskInProgress, Output: out}
							if look == "ref" {
								c.TaskID, c.Ref = "", "w"
							}
							if _, got, err := e.CompleteTaskStored(context.Background(), id, c); err != nil || got != taskID {
								b.Fatalf("%q %v", got, err)
							}
						}
					})
					b.Run("look-only", func(b *testing.B) {
						b.ReportAllocs()
						for i := 0; i < b.N; i++ {
							if ended, err := engine.AttemptEnded(context.Background(), e, id, taskID, seq); err != nil || ended {
								b.Fatalf("%v %v", ended, err)
							}
						}
					})
					if _, err := e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}
