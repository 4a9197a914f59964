package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
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

// newRemaskRun is a bare run state with its secret boundary, for the
// remask tests below.
func newRemaskRun(t *testing.T) *runState {
	t.Helper()
	e, err := New(WithRunStore(runstore.NewMemory()), WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"r","tasks":[{"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := e.newState(def, "remask-run")
	r.doc.WorkflowID = "remask-run"
	if err := r.newSecrets(nil); err != nil {
		t.Fatal(err)
	}
	return r
}

// registerValue registers v with r's masker, as a task output's `_secrets`
// leaf does.
func registerValue(t *testing.T, r *runState, v string) {
	t.Helper()
	if _, _, err := r.sec.Protect([]byte(`{"_secrets":{"v":"`+v+`"}}`), "/tasks/x/outputData"); err != nil {
		t.Fatal(err)
	}
}

// A form protected before a value was registered, and stored after another
// write masked the run's forms with that value (tasks running side by
// side), is masked with it when the run is next written.
func TestFormProtectedBeforeARegistrationAndStoredAfterIsMasked(t *testing.T) {
	r := newRemaskRun(t)
	const v = "tok-race-5bd1e0c2"
	t1 := &taskRecord{Ref: "a", TaskType: "SET_VARIABLE", Status: TaskScheduled}
	r.mu.Lock()
	r.addTaskLocked(t1)
	r.mu.Unlock()
	if err := r.setTaskData(t1, []byte(`{"before":"x"}`), nil); err != nil {
		t.Fatal(err)
	}
	registerValue(t, r, "tok-first-0c0ffee")
	r.mu.Lock()
	r.remaskLocked() // builds the index
	r.mu.Unlock()

	// Task 2 protects its output (v not registered yet) ...
	t2 := &taskRecord{Ref: "b", TaskType: "SET_VARIABLE", Status: TaskScheduled}
	r.mu.Lock()
	r.addTaskLocked(t2)
	r.mu.Unlock()
	gen := r.sec.Generation()
	_, stored, err := r.sec.Protect([]byte(`{"echo":"`+v+`"}`), "/tasks/b/outputData")
	if err != nil {
		t.Fatal(err)
	}
	// ... while task 3 registers v and the run is written.
	registerValue(t, r, v)
	r.mu.Lock()
	r.remaskLocked()
	// Task 2's output is stored now, as setTaskData stores it.
	r.rx.producedLocked(gen)
	t2.outStored = stored
	r.touchLocked(t2)
	r.remaskLocked() // the next write
	got := string(t2.outStored)
	r.mu.Unlock()
	if strings.Contains(got, v) {
		t.Fatalf("stored output still holds the value: %s", strings.ReplaceAll(got, v, "<value>"))
	}
	if got != `{"echo":"***"}` {
		t.Fatalf("stored output %s", got)
	}
}

// A record dropped from the run (keepLastN) that the index lists is
// forgotten, and not marked changed: it would be written back.
func TestDroppedRecordListedIsNotTouched(t *testing.T) {
	r := newRemaskRun(t)
	const v = "tok-dropped-88a1f3"
	registerValue(t, r, "tok-first-0c0ffee") // the first remask builds the index
	var recs []*taskRecord
	for i := range 3 {
		rec := &taskRecord{Ref: fmt.Sprintf("s__%d", i+1), TaskType: "SET_VARIABLE", Status: TaskScheduled}
		r.mu.Lock()
		r.addTaskLocked(rec)
		r.mu.Unlock()
		if err := r.setTaskData(rec, []byte(`{"i":1}`), []byte(`{"echo":"`+v+`"}`)); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remaskLocked()
	r.dirty = r.dirty[:0]
	for _, rec := range recs {
		rec.dirty = false
	}
	// Record 0 is dropped from the run, as dropIteration does; record 2
	// goes with a restart (no longer in the list, not marked forgotten).
	r.forgetLocked(recs[0])
	r.tasks = []*taskRecord{recs[1]}
	r.mu.Unlock()
	registerValue(t, r, v)
	r.mu.Lock()
	r.remaskLocked()
	if !strings.Contains(string(recs[1].outStored), `"***"`) {
		t.Fatalf("kept record not masked: %s", strings.ReplaceAll(string(recs[1].outStored), v, "<value>"))
	}
	for _, rec := range r.dirty {
		if rec != recs[1] {
			t.Fatalf("record %s marked changed though it is no longer the run's", rec.Ref)
		}
	}
	// The forgotten record left the index when it was forgotten; the
	// other one when it was listed.
	if r.rx.droppedRecords != 1 || r.rx.idx.Len() != 2 {
		t.Fatalf("dropped %d records, index holds %d forms", r.rx.droppedRecords, r.rx.idx.Len())
	}
}

// A run that keeps many task log lines and registers values one at a time
// opens and masks again, per value, only the lines the value may be in —
// not every line it keeps — and each line holding a value, in whatever
// spelling, is masked once the value is registered.
func TestTaskLogLinesRemaskedOnlyWhereANewValueMayBe(t *testing.T) {
	r := newRemaskRun(t)
	ctx := context.Background()
	tl := r.e.runs.(runstore.TaskLogger)
	const n = 300
	value := func(i int) string { return fmt.Sprintf("tok-%d-%x", i, uint32(i)*2654435761) }
	lines := make([][]byte, n)
	for i := range n {
		var line string
		switch i % 3 {
		case 0:
			line = "calling with " + value(i)
		case 1:
			j, _ := json.Marshal(map[string]string{"auth": `"` + value(i) + `"`})
			line = "request " + string(j)
		default:
			line = "basic " + base64.StdEncoding.EncodeToString([]byte("user:"+value(i)))
		}
		lines[i], _ = json.Marshal(TaskLog{Log: line, TaskID: "task-1", CreatedTime: 1})
	}
	next := 0
	if err := tl.AppendTaskLogs(ctx, r.id, n, func(seq uint64) ([]byte, error) {
		b := lines[next]
		next++
		return r.e.Transit().Seal(b, taskLogKind, taskLogBinding(r.id, seq))
	}, MaxTaskLogLines); err != nil {
		t.Fatal(err)
	}
	pass := func() {
		r.saveMu.Lock()
		r.remaskTaskLogsIfGrown(ctx)
		r.saveMu.Unlock()
	}
	registerValue(t, r, "tok-first-0c0ffee")
	pass() // opens every line once: none seen before
	if r.logIdx.opened != n {
		t.Fatalf("first pass opened %d lines, want %d", r.logIdx.opened, n)
	}
	for i := range n {
		before := r.logIdx.opened
		registerValue(t, r, value(i))
		pass()
		if got := r.logIdx.opened - before; got > 3 {
			t.Fatalf("value %d: %d lines opened to be masked again (of %d)", i, got, n)
		}
	}
	got, err := r.e.TaskLogs(ctx, r.id, "task-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d lines kept, want %d", len(got), n)
	}
	for i, l := range got {
		if !strings.Contains(l.Log, "***") {
			t.Errorf("line %d not masked: %s", i, strings.ReplaceAll(l.Log, value(i), "<value>"))
		}
	}
	t.Logf("%d lines opened for %d values registered one at a time", r.logIdx.opened-n, n)
}

// A loop that keeps its last iterations (keepLastN) keeps an index of
// their forms only, however long it runs.
func TestKeepLastNLoopKeepsASmallRemaskIndex(t *testing.T) {
	def := strings.Replace(registeringLoopDef(300), `"type":"DO_WHILE",`, `"type":"DO_WHILE","inputParameters":{"keepLastN":2},`, 1)
	rx, _ := remaskWork(t, def)
	if rx.idx == nil || rx.idx.Len() > 12 {
		n := -1
		if rx.idx != nil {
			n = rx.idx.Len()
		}
		t.Fatalf("the index holds %d forms after 300 iterations keeping 2", n)
	}
}

// A keepLastN loop after the run's only value was registered (the index
// of stored forms built, no remask since) does not hold the records it
// touched and dropped: the queue of records to index again stays within
// a bound of what the run holds, however long the loop runs.
func TestKeepLastNLoopAfterItsSecretsHoldsNoDroppedRecords(t *testing.T) {
	def := `{"name":"early","tasks":[
	  {"name":"reg","taskReferenceName":"reg","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"({_secrets: {tok: 'token-value-early'}})"}},
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","inputParameters":{"keepLastN":2},
	   "loopCondition":"if ($.loop['iteration'] < 300) { true; } else { false; }",
	   "loopOver":[{"name":"step","taskReferenceName":"step","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}]}`
	rx, _ := remaskWork(t, def)
	if rx.idx == nil {
		t.Fatal("no index of stored forms was built")
	}
	if n := len(rx.queue); n > 2*8+64 {
		t.Fatalf("the remask queue holds %d records after 300 iterations keeping 2", n)
	}
	if n := rx.idx.Len(); n > 16 {
		t.Fatalf("the index holds %d forms after 300 iterations keeping 2", n)
	}
}

// SPEC §8 "per-task CPU ... within 2× of the 10-task case", for the
// DO_WHILE record itself: its output holds a `_secrets` member per
// iteration, and protecting it (masked, each member sealed) must cost per
// iteration what it costs at 10 — it cost one copy of the whole output per
// member, quadratic in the loop's length. Counted in bytes allocated per
// iteration by the whole run (runtime.MemStats), not timed.
func TestLoopRegisteringValuesAllocatesFlatPerIteration(t *testing.T) {
	per := map[int]float64{}
	for _, n := range []int{10, 1000} {
		e, err := New(WithRunStore(runstore.NewMemory()), WithRegistry(tasks.NewDefaultRegistry()))
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Parse([]byte(registeringLoopDef(n)))
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
		runtime.ReadMemStats(&after)
		if err != nil || res.Status != StatusCompleted || string(res.Output) != fmt.Sprintf(`{"n":%d}`, n) {
			t.Fatalf("run: %v %+v", err, res)
		}
		per[n] = float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	}
	t.Logf("bytes allocated per iteration: %.0f at 10 iterations, %.0f at 1000", per[10], per[1000])
	if per[1000] > 2*per[10] {
		t.Fatalf("a 1000-iteration loop allocates %.0f bytes per iteration, %.1f× the %.0f of a 10-iteration one", per[1000], per[1000]/per[10], per[10])
	}
}
