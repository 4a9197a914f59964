package engine

import (
	"context"
	"strings"
	"testing"
)

// A SUB_WORKFLOW child's reference input, protected before a value was
// registered and stored after a write of the run masked its forms with
// that value, is masked with it at the next write: keepReferenceInput
// notes what it masked with, as every writer of a stored form does.
func TestReferenceInputProtectedBeforeARegistrationIsMasked(t *testing.T) {
	r := newRemaskRun(t)
	const v = "tok-refin-3c9e11aa"
	registerValue(t, r, "tok-first-0c0ffee")
	r.mu.Lock()
	r.remaskLocked() // builds the index
	r.mu.Unlock()
	if err := r.keepReferenceInput(nil, []byte(`{"echo":"`+v+`"}`)); err != nil {
		t.Fatal(err)
	}
	// v was registered, and the run's forms masked with it, while the
	// input was being protected (the interleaving is played in order).
	registerValue(t, r, v)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maskedAt = r.sec.Generation()
	r.remaskLocked() // the next write
	if got := string(r.inStored); strings.Contains(got, v) || !r.changedIn {
		t.Fatalf("stored input %s (written again: %v)", strings.ReplaceAll(got, v, "<value>"), r.changedIn)
	}
}

// The run's reason, stored before a value it quotes (whole, or its head
// where a task's reason was cut) was registered, is masked with it at
// the next write, and so is a task's.
func TestRunAndTaskReasonsMaskedWithValuesRegisteredLater(t *testing.T) {
	r := newRemaskRun(t)
	const v = "tok-reason-9a8b7c6d"
	registerValue(t, r, "tok-first-0c0ffee")
	rec := &taskRecord{Ref: "a", TaskType: "SET_VARIABLE", Status: TaskScheduled}
	r.mu.Lock()
	r.addTaskLocked(rec)
	r.remaskLocked() // builds the index
	r.doc.ReasonForIncompletion = "Task a failed with status: FAILED and reason: 'HTTP 500: " + v[:11] + "…' then " + v
	r.mu.Unlock()
	if err := r.transition(context.Background(), rec, TaskCompletedWithErrors, "HTTP 500: "+v[:11]+"…"); err != nil {
		t.Fatal(err)
	}
	registerValue(t, r, v)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remaskLocked()
	if got, want := r.doc.ReasonForIncompletion, "Task a failed with status: FAILED and reason: 'HTTP 500: ***…' then ***"; got != want {
		t.Fatalf("run reason %q, want %q", strings.ReplaceAll(got, v[:4], "<head>"), want)
	}
	if got, want := rec.Reason, "HTTP 500: ***…"; got != want {
		t.Fatalf("task reason %q, want %q", strings.ReplaceAll(got, v[:4], "<head>"), want)
	}
	if !rec.dirty {
		t.Fatal("task record masked again but not written")
	}
}

// A record dropped from the run (keepLastN) leaves the index with its
// reason too: a loop keeping its last N iterations keeps an index of
// that size.
func TestForgottenRecordsReasonLeavesTheIndex(t *testing.T) {
	r := newRemaskRun(t)
	rec := &taskRecord{Ref: "a__1", TaskType: "SET_VARIABLE", Status: TaskScheduled}
	r.mu.Lock()
	r.addTaskLocked(rec)
	r.mu.Unlock()
	if err := r.setTaskData(rec, []byte(`{"i":1}`), []byte(`{"o":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.transition(context.Background(), rec, TaskCompletedWithErrors, "failed quoting something"); err != nil {
		t.Fatal(err)
	}
	registerValue(t, r, "tok-first-0c0ffee")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remaskLocked() // builds the index
	before := r.rx.idx.Len()
	r.forgetLocked(rec)
	if got := r.rx.idx.Len(); got != before-3 {
		t.Fatalf("index holds %d texts after the record was forgotten, %d before (want 3 fewer)", got, before)
	}
}
