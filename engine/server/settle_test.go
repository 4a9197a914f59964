package server_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// A client that restarts or reruns a run as soon as it reads it
// ended is not refused as "executing" while this process is still letting
// go of the run (archiving it, giving up its lease).
func TestRestartRightAfterTheEnd(t *testing.T) {
	ts := newConductorServer(t, nil)
	const def = `{"name":"quick","version":1,"schemaVersion":2,"tasks":[
	  {"name":"one","taskReferenceName":"one","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow/quick", `{}`)
	for i := 0; i < 40; i++ {
		ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
		path, body := "/restart", ""
		if i%2 == 1 {
			path, body = "/rerun", `{}`
		}
		st, _, answer := ts.do(t, "POST", "/api/workflow/"+id+path, body)
		if st != 204 && st != 200 {
			t.Fatalf("%s #%d right after the end: %d %s", path, i, st, answer)
		}
		if strings.Contains(answer, "executing") {
			t.Fatalf("%s #%d: %s", path, i, answer)
		}
	}
}

// endGate is a run store whose first archive of a COMPLETED run (how its
// end is stored) waits for release and fails, as a store that goes away while a run's end is
// stored: the run stays RUNNING with every task ended, resumable.
type endGate struct {
	runstore.Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *endGate) Archive(ctx context.Context, id string, archived []byte, sum runstore.Summary) error {
	if sum.Status == engine.StatusCompleted && g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
		return errors.New("run store unavailable")
	}
	return g.Store.Archive(ctx, id, archived, sum)
}

// A decide sent while this process is letting go of a run whose end could
// not be stored (RUNNING, every task ended) waits for it to let go, then
// resumes the run, which completes; it is not answered "executing here"
// and left RUNNING with nobody executing it.
func TestResumeOfARunThatIsEnding(t *testing.T) {
	gate := &endGate{Store: runstore.NewMemory(), entered: make(chan struct{}), release: make(chan struct{})}
	gate.armed.Store(true)
	ts := newConductorServer(t, gate)
	const def = `{"name":"quick","version":1,"schemaVersion":2,"tasks":[
	  {"name":"one","taskReferenceName":"one","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow/quick", `{}`)
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the run's end was never stored")
	}
	d := ts.waitRun(t, id, "RUNNING with its task ended", func(d runDoc) bool {
		return d.Status == "RUNNING" && len(d.Tasks) == 1 && d.Tasks[0].Status == "COMPLETED"
	})
	time.AfterFunc(200*time.Millisecond, func() { close(gate.release) })
	if st, _, body := ts.do(t, "PUT", "/api/workflow/decide/"+id, ""); st != 200 {
		t.Fatalf("decide: %d %s", st, body)
	}
	d = ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if len(d.Tasks) != 1 {
		t.Fatalf("after the decide: %+v", d)
	}
}
