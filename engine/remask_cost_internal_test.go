package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// registeringLoopDef is runlog_cost_test.go's registeringLoop: a DO_WHILE
// of n iterations whose task registers a new value (a `_secrets` leaf of
// its output) in each.
func registeringLoopDef(n int) string {
	return fmt.Sprintf(`{"name":"registering","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "loopCondition":"if ($.loop['iteration'] < %d) { true; } else { false; }",
	  "loopOver":[{"name":"step","taskReferenceName":"step","type":"INLINE",
	    "inputParameters":{"evaluatorType":"javascript","i":"${loop.output.iteration}","expression":"({_secrets: {tok: 'token-value-' + $.i}})"}}]}],
	  "outputParameters":{"n":"${loop.output.iteration}"}}`, n)
}

// remaskWork runs def and returns the run's remask counters and how many
// patterns its masker holds at the end.
func remaskWork(t *testing.T, def string) (remaskIndex, int) {
	t.Helper()
	var (
		mu  sync.Mutex
		run *runState
		e   *Engine
	)
	e, err := New(WithRunStore(runstore.NewMemory()), WithRegistry(tasks.NewDefaultRegistry()),
		WithEvents(func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			if run == nil {
				run = e.activeRun(ev.RunID)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
	if err != nil || res.Status != StatusCompleted {
		t.Fatalf("run: %v %+v", err, res)
	}
	mu.Lock()
	r := run
	mu.Unlock()
	if r == nil {
		t.Fatal("no run state seen")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rx, r.sec.Generation()
}

// SPEC §8 "per-task CPU ... within 2× of the 10-task case": a loop that
// registers a value per iteration masks again, per iteration, about as
// many stored forms and bytes at 1 000 iterations as at 10 — only the
// forms the new value may be in, not everything the run stored (which
// grows with the loop, and made the loop O(n²)). Counted, not timed.
func TestLoopRegisteringValuesRemasksFlatWorkPerIteration(t *testing.T) {
	type work struct{ forms, bytes float64 }
	per := map[int]work{}
	var line []string
	for _, n := range []int{10, 1000} {
		rx, patterns := remaskWork(t, registeringLoopDef(n))
		if patterns < n {
			t.Fatalf("%d iterations registered %d patterns: the loop registers nothing", n, patterns)
		}
		if rx.rebuilds != 1 {
			t.Fatalf("%d iterations: the index was built %d times, want once", n, rx.rebuilds)
		}
		w := work{
			forms: float64(rx.remasked+rx.indexedForms) / float64(n),
			bytes: float64(rx.remaskedBytes+rx.indexedBytes) / float64(n),
		}
		per[n] = w
		line = append(line, fmt.Sprintf("%d iterations: %.1f forms, %.0f B masked or indexed per iteration (%d masked again, %d indexed)",
			n, w.forms, w.bytes, rx.remasked, rx.indexedForms))
	}
	t.Log(strings.Join(line, "; "))
	if per[1000].forms > 2*per[10].forms || per[1000].bytes > 2*per[10].bytes {
		t.Fatalf("re-masking work per iteration grows with the loop: %s", strings.Join(line, "; "))
	}
}
