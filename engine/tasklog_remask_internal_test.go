package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// hookLogStore runs before (once) when a task log batch is about to be
// committed: what another goroutine of the run does meanwhile.
type hookLogStore struct {
	*runstore.Memory
	before func()
}

func (s *hookLogStore) AppendTaskLogs(ctx context.Context, id string, n int, seal func(seq uint64) ([]byte, error), max int) error {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.Memory.AppendTaskLogs(ctx, id, n, seal, max)
}

// newActiveRun is newRemaskRun on store rs, RUNNING and executed by its
// engine (AppendTaskLogs masks with its masker).
func newActiveRun(t *testing.T, rs runstore.Store) *runState {
	t.Helper()
	e, err := New(WithRunStore(rs), WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"r","tasks":[{"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := e.newState(def, "log-run")
	r.doc.WorkflowID, r.doc.Status = "log-run", StatusRunning
	if err := r.newSecrets(nil); err != nil {
		t.Fatal(err)
	}
	if !e.setActive(r, true) {
		t.Fatal("run already active")
	}
	t.Cleanup(func() { e.setActive(r, false) })
	return r
}

func logPass(r *runState) {
	r.saveMu.Lock()
	r.remaskTaskLogsIfGrown(context.Background())
	r.saveMu.Unlock()
}

func storedLogs(t *testing.T, r *runState) string {
	t.Helper()
	got, err := r.e.TaskLogs(context.Background(), r.id, "task-1")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range got {
		b.WriteString(l.Log + "\n")
	}
	return b.String()
}

// A line longer than MaxTaskLogLine is masked whole and cut; a value
// registered after it was stored, whose head is where the line was cut,
// is masked there when the lines are masked again — its rarest piece
// being in the part cut off.
func TestTaskLogLineCutBeforeARegistrationIsMaskedAtTheCut(t *testing.T) {
	r := newActiveRun(t, runstore.NewMemory())
	const v = "tokLATER-9f8e7d6c5b4a"
	registerValue(t, r, "tok-first-0c0ffee")
	logPass(r)
	line := strings.Repeat("x", MaxTaskLogLine-20) + v
	if err := r.e.AppendTaskLogs(context.Background(), r.id, "task-1", []string{line, "short line"}); err != nil {
		t.Fatal(err)
	}
	logPass(r) // the lines are seen (indexed) before v is registered
	if got := storedLogs(t, r); !strings.Contains(got, v[:12]) {
		t.Fatalf("stored line does not end with the value's head: the test tests nothing")
	}
	registerValue(t, r, v)
	logPass(r)
	got := storedLogs(t, r)
	if strings.Contains(got, v[:4]) {
		i := strings.Index(got, v[:4])
		t.Fatalf("stored line keeps the value's head: …%s", strings.ReplaceAll(got[max(i-20, 0):i+4], v[:4], "<head>"))
	}
	if !strings.Contains(got, "x***"+"…") {
		t.Fatalf("stored lines %q", got[len(got)-40:])
	}
}

// A batch masked while the run registers a value and masks its lines
// again — the batch not stored yet — is masked with that value once
// stored: the run's pass did not see it, and no later one need come.
func TestTaskLogBatchStoredAfterARegistrationIsMasked(t *testing.T) {
	rs := &hookLogStore{Memory: runstore.NewMemory()}
	r := newActiveRun(t, rs)
	const v = "tok-race-77e1c0de"
	registerValue(t, r, "tok-first-0c0ffee")
	logPass(r)
	rs.before = func() {
		// The batch is masked (v unknown); the run registers v and is
		// written, masking its stored lines again.
		registerValue(t, r, v)
		logPass(r)
	}
	if err := r.e.AppendTaskLogs(context.Background(), r.id, "task-1", []string{"calling with " + v}); err != nil {
		t.Fatal(err)
	}
	if got := storedLogs(t, r); strings.Contains(got, v) {
		t.Fatalf("stored line holds the value: %s", strings.ReplaceAll(got, v, "<value>"))
	}
}

// Lines appended by another process, masked with a masker that lacked a
// value the run registered, are masked with it by the run's last pass
// when it is archived, though the run registered nothing since its
// previous pass.
func TestArchiveMasksTaskLogLinesAppendedSinceTheLastPass(t *testing.T) {
	r := newActiveRun(t, runstore.NewMemory())
	ctx := context.Background()
	const v = "tok-other-5e11f00d"
	registerValue(t, r, v)
	if err := r.save(ctx); err != nil {
		t.Fatal(err)
	}
	// Another process stores a line masked without v.
	tl := r.e.runs.(runstore.TaskLogger)
	line, _ := json.Marshal(TaskLog{Log: "calling with " + v, TaskID: "task-1", CreatedTime: 1})
	if err := tl.AppendTaskLogs(ctx, r.id, 1, func(seq uint64) ([]byte, error) {
		return r.e.Transit().Seal(line, taskLogKind, taskLogBinding(r.id, seq))
	}, MaxTaskLogLines); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.doc.Status = StatusCompleted
	r.mu.Unlock()
	if err := r.archive(ctx); err != nil {
		t.Fatal(err)
	}
	if got := storedLogs(t, r); strings.Contains(got, v) || !strings.Contains(got, "***") {
		t.Fatalf("stored line after the archive: %s", strings.ReplaceAll(got, v, "<value>"))
	}
}

// A batch masked while the run registers a value, ends and is archived —
// its last pass made before the batch is stored — is masked with that
// value once stored.
func TestTaskLogBatchStoredAfterTheArchiveIsMasked(t *testing.T) {
	rs := &hookLogStore{Memory: runstore.NewMemory()}
	r := newActiveRun(t, rs)
	ctx := context.Background()
	const v = "tok-late-4d3c2b1a"
	registerValue(t, r, "tok-first-0c0ffee")
	if err := r.save(ctx); err != nil {
		t.Fatal(err)
	}
	rs.before = func() {
		registerValue(t, r, v)
		r.mu.Lock()
		r.doc.Status = StatusCompleted
		r.mu.Unlock()
		if err := r.archive(ctx); err != nil {
			t.Error(err)
		}
		r.e.setActive(r, false)
	}
	if err := r.e.AppendTaskLogs(ctx, r.id, "task-1", []string{"calling with " + v}); err != nil {
		t.Fatal(err)
	}
	if got := storedLogs(t, r); strings.Contains(got, v) || !strings.Contains(got, "***") {
		t.Fatalf("stored line: %s", strings.ReplaceAll(got, v, "<value>"))
	}
}

// A run that keeps no task log line builds no index of them when it
// registers values; its first lines are indexed when they come.
func TestRunWithoutTaskLogsBuildsNoTaskLogIndex(t *testing.T) {
	r := newRemaskRun(t)
	ctx := context.Background()
	pass := func() {
		r.saveMu.Lock()
		r.remaskTaskLogsIfGrown(ctx)
		r.saveMu.Unlock()
	}
	registerValue(t, r, "tok-first-0c0ffee")
	pass()
	if r.logIdx.idx != nil {
		t.Fatal("an index of task log lines built for a run that keeps none")
	}
	const v = "tok-later-5e11ab1e"
	line, _ := json.Marshal(TaskLog{Log: "calling with " + v, TaskID: "task-1", CreatedTime: 1})
	if err := r.e.runs.(runstore.TaskLogger).AppendTaskLogs(ctx, r.id, 1, func(seq uint64) ([]byte, error) {
		return r.e.Transit().Seal(line, taskLogKind, taskLogBinding(r.id, seq))
	}, MaxTaskLogLines); err != nil {
		t.Fatal(err)
	}
	registerValue(t, r, "tok-second-0dd0beef")
	pass()
	if r.logIdx.idx == nil || r.logIdx.idx.Len() != 1 {
		t.Fatal("the run's first task log line is not indexed")
	}
	registerValue(t, r, v)
	pass()
	got, err := r.e.TaskLogs(ctx, r.id, "task-1")
	if err != nil || len(got) != 1 || got[0].Log != "calling with ***" {
		t.Fatalf("%v %+v", err, got)
	}
}
