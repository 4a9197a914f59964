package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/tasks"
)

// TestRemoteIgnoresAnswerForAnotherAttempt: a completion stored for an
// attempt other than the one waiting (a worker answering late, through
// another process, for an attempt that was retried) is not taken; the
// waiting attempt's own answer is.
func TestRemoteIgnoresAnswerForAnotherAttempt(t *testing.T) {
	got := make(chan RemoteTask, 1)
	answer := make(chan tasks.Result, 1)
	e, err := New(WithRegistry(tasks.NewDefaultRegistry()), WithPollInterval(5*time.Millisecond), WithLeaseTTL(150*time.Millisecond),
		WithRemoteWorker(func(ctx context.Context, rt RemoteTask) tasks.Result {
			got <- rt
			select {
			case r := <-answer:
				return r
			case <-ctx.Done():
				return tasks.Result{Status: tasks.Failed, Reason: "cancelled"}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"w","tasks":[{"name":"remote_work","taskReferenceName":"work","type":"SIMPLE"}],"outputParameters":{"r":"${work.output.r}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.Start(context.Background(), def, nil)
		done <- outcome{res, err}
	}()
	rt := <-got
	stale, _ := json.Marshal(signal{Status: TaskCompleted, Output: json.RawMessage(`{"r":"stale"}`), TaskID: "an-earlier-attempt"})
	if err := e.runs.PutSignal(context.Background(), rt.RunID, rt.Ref, stale); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // heartbeats take the signal in, ticks look at it
	answer <- tasks.Result{Status: tasks.Completed, Output: json.RawMessage(`{"r":"fresh"}`)}
	o := <-done
	if o.err != nil || o.res.Status != StatusCompleted || string(o.res.Output) != `{"r":"fresh"}` {
		t.Fatalf("run: %+v %v", o.res, o.err)
	}
}
