package server_test

import (
	"testing"
	"time"
)

// WorkflowAndTaskConfigurationSpec "Test simple workflow with
// callbackAfterSeconds for tasks", through wfrun serve with the Go SDK and
// the engine's clock: integration_task_1, answered IN_PROGRESS with
// callbackAfterSeconds 2, is SCHEDULED again and no poll gets it before the
// 2 s have passed; then it is polled and completed and integration_task_2
// is SCHEDULED. integration_task_2, answered IN_PROGRESS with
// callbackAfterSeconds 5, likewise waits 5 s; polled and completed then, the
// run COMPLETES with both tasks COMPLETED.
func TestConductorCallbackAfterSecondsSpec(t *testing.T) {
	s := newCallbackSpec(t)
	for i, step := range []struct {
		task     string
		callback int64
		output   map[string]any
	}{
		{"integration_task_1", 2, map[string]any{"op": "task1.done"}},
		{"integration_task_2", 5, nil},
	} {
		try1 := s.poll(t, step.task, time.Second)
		if try1 == nil {
			t.Fatalf("%s: nothing polled", step.task)
		}
		s.update(t, try1, "IN_PROGRESS", step.callback, nil)
		d := s.ts.waitRun(t, s.id, step.task+" SCHEDULED again", func(d runDoc) bool { return d.Tasks[i].Status == "SCHEDULED" })
		if d.Status != "RUNNING" || len(d.Tasks) != i+1 || d.Tasks[i].TaskType != step.task {
			t.Fatalf("after the IN_PROGRESS update: %s %+v", d.Status, d.Tasks)
		}
		if again := s.poll(t, step.task, 200*time.Millisecond); again != nil {
			t.Fatalf("%s polled at once despite its callback: %+v", step.task, again)
		}
		s.mc.Advance(time.Duration(step.callback)*time.Second - 100*time.Millisecond)
		if again := s.poll(t, step.task, 200*time.Millisecond); again != nil {
			t.Fatalf("%s polled 100 ms before its callback: %+v", step.task, again)
		}
		if d := s.ts.waitRun(t, s.id, "unchanged", func(runDoc) bool { return true }); d.Status != "RUNNING" || d.Tasks[i].Status != "SCHEDULED" {
			t.Fatalf("before the callback: %s %+v", d.Status, d.Tasks)
		}
		s.mc.Advance(150 * time.Millisecond)
		try2 := s.poll(t, step.task, 2*time.Second)
		if try2 == nil || try2.TaskId != try1.TaskId {
			t.Fatalf("%s after its callback: %+v", step.task, try2)
		}
		s.update(t, try2, "COMPLETED", 0, step.output)
		if i == 0 {
			d := s.ts.waitRun(t, s.id, "integration_task_2 SCHEDULED", func(d runDoc) bool { return len(d.Tasks) == 2 })
			if d.Status != "RUNNING" || d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].TaskType != "integration_task_2" || d.Tasks[1].Status != "SCHEDULED" {
				t.Fatalf("after integration_task_1: %s %+v", d.Status, d.Tasks)
			}
		}
	}
	d := s.ts.waitRun(t, s.id, "COMPLETED", func(d runDoc) bool { return d.Status != "RUNNING" })
	if d.Status != "COMPLETED" || len(d.Tasks) != 2 || d.Tasks[0].TaskType != "integration_task_1" || d.Tasks[0].Status != "COMPLETED" ||
		d.Tasks[1].TaskType != "integration_task_2" || d.Tasks[1].Status != "COMPLETED" {
		t.Fatalf("at the end: %s %+v", d.Status, d.Tasks)
	}
}
