package engine

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// countingClock is the system clock, counting the readings.
type countingClock struct{ reads atomic.Int64 }

func (c *countingClock) Now() time.Time { c.reads.Add(1); return time.Now() }

func (c *countingClock) After(d time.Duration) (<-chan time.Time, func()) {
	return systemClock{}.After(d)
}

// TestLeafTaskReadsTheClockPerTimestamp: an HTTP task executed as a run
// executes it (execLeaf, its one write) reads the clock for the times its
// record shows — scheduled, start, end, and the write's, which stamps the
// record's updateTime — not for every change of the record on the way
// (touchLocked marks it; its encoding stamps it). A clock reading is a
// good part of the engine's own time per task on a VM (BenchmarkHTTPTask).
func TestLeafTaskReadsTheClockPerTimestamp(t *testing.T) {
	reg := tasks.NewDefaultRegistry()
	reg.Register("HTTP", recordedTask(`{"response":{"statusCode":200,"body":{"id":42}}}`))
	clock := &countingClock{}
	e, err := New(WithRegistry(reg), WithClock(clock), WithSecrets(func(Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"api_token": json.RawMessage(`"tok-9f8e7d6c5b4a"`)}
	}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"http","tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP","inputParameters":{
	  "uri":"http://example.invalid/","method":"GET","headers":{"Authorization":"Bearer ${workflow.secrets.api_token}"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := e.newState(def, "clock-run")
	r.doc.WorkflowID = "clock-run"
	if err := r.newSecrets(nil); err != nil {
		t.Fatal(err)
	}
	wt := def.Tasks[0]
	for i := 0; i < 3; i++ {
		r.mu.Lock()
		r.tasks, r.dirty, r.doc.NextSeq = r.tasks[:0], r.dirty[:0], 0
		clear(r.byRef)
		clear(r.latest)
		r.mu.Unlock()
		before := clock.reads.Load()
		if err := r.execLeaf(context.Background(), wt, "", 0); err != nil {
			t.Fatal(err)
		}
		reads := clock.reads.Load() - before
		rec := r.lookup("get")
		if rec == nil || rec.Status != TaskCompleted {
			t.Fatalf("task: %+v", rec)
		}
		if i > 0 && reads > 4 {
			t.Errorf("attempt %d: %d clock readings, want at most 4 (scheduled, start, end, write)", i, reads)
		}
		if rec.Updated < rec.End || rec.End < rec.Start || rec.Start < rec.Scheduled || rec.unstamped {
			t.Errorf("attempt %d: times out of order: scheduled %d start %d end %d updated %d (unstamped %v)",
				i, rec.Scheduled, rec.Start, rec.End, rec.Updated, rec.unstamped)
		}
	}
}
