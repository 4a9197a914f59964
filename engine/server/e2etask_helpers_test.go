package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"

	"github.com/wfrun/wfrun/engine"
)

// Helpers of the ports of Conductor's e2e task/, processing/ and metadata/
// classes (e2e/src/test/java/io/conductor/e2e/): `wfrun serve` on a manual
// clock, driven as the Java tests drive Conductor, with the Go SDK's
// clients (plain HTTP where the Java test itself sends raw JSON).

// e2tServer is a Conductor server on a manual clock and its SDK clients.
type e2tServer struct {
	*conductorServer
	sdkClients
	clock *engine.ManualClock
}

func newE2TServer(t *testing.T) *e2tServer {
	t.Helper()
	mc := engine.NewManualClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	ts := newConductorServerWith(t, nil, []engine.Option{engine.WithClock(mc)})
	return &e2tServer{conductorServer: ts, sdkClients: newSDK(t, ts.URL), clock: mc}
}

// transcribedDef reads a definition a Java test builds in code, transcribed
// under testdata/conductor/transcribed (SOURCES.md).
func transcribedDef(t *testing.T, file string) model.WorkflowDef {
	t.Helper()
	var d model.WorkflowDef
	if err := json.Unmarshal(readConductorFile(t, "transcribed/"+file), &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return d
}

// rawTaskDef registers one task definition as the JSON object fields, as
// RetryPolicyTests' registerTaskDef does (POST /api/metadata/taskdefs).
func (s *e2tServer) rawTaskDef(t *testing.T, fields map[string]any) {
	t.Helper()
	b, err := json.Marshal([]map[string]any{fields})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := s.do(t, "POST", "/api/metadata/taskdefs", string(b)); code >= 300 {
		t.Fatalf("Task def registration failed %d: %s", code, body)
	}
}

// updateDefs is metadataClient.updateWorkflowDefs (PUT /api/metadata/workflow).
func (s *e2tServer) updateDefs(t *testing.T, defs ...model.WorkflowDef) {
	t.Helper()
	if resp, err := s.meta.Update(context.Background(), defs); err != nil {
		t.Fatalf("updateWorkflowDefs: %v (status %d)", err, status(resp))
	}
}

// pollFor batch-polls taskType (count, long-poll wait) as worker.
func (s *e2tServer) pollFor(t *testing.T, taskType, worker string, count int, wait time.Duration) []model.Task {
	t.Helper()
	got, resp, err := s.tasks.BatchPoll(context.Background(), taskType, &client.TaskResourceApiBatchPollOpts{
		Workerid: optional.NewString(worker), Count: optional.NewInt32(int32(count)), Timeout: optional.NewInt32(int32(wait / time.Millisecond))})
	if err != nil {
		t.Fatalf("BatchPoll %s: %v (status %d)", taskType, err, status(resp))
	}
	return got
}

// pollOne polls until one task of taskType is handed out (up to 10 s of
// real time; the clock does not move).
func (s *e2tServer) pollOne(t *testing.T, taskType string) model.Task {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if got := s.pollFor(t, taskType, "e2e-worker", 1, 500*time.Millisecond); len(got) > 0 {
			return got[0]
		}
	}
	t.Fatalf("no %s task to poll", taskType)
	return model.Task{}
}

// pollNone asserts no task of taskType is handed out now.
func (s *e2tServer) pollNone(t *testing.T, taskType, when string) {
	t.Helper()
	if got := s.pollFor(t, taskType, "e2e-worker", 10, 100*time.Millisecond); len(got) > 0 {
		t.Fatalf("%s: a %s task was handed out: %s %s", when, taskType, got[0].TaskId, got[0].Status)
	}
}

// result answers a polled task (TaskClient.updateTask).
func (s *e2tServer) result(t *testing.T, wfID, taskID, st, reason string) {
	t.Helper()
	r := &model.TaskResult{WorkflowInstanceId: wfID, TaskId: taskID, Status: model.TaskResultStatus(st), ReasonForIncompletion: reason}
	if _, resp, err := s.tasks.UpdateTask(context.Background(), r); err != nil {
		t.Fatalf("updateTask %s %s: %v (status %d)", taskID, st, err, status(resp))
	}
}

// run reads the workflow with its tasks (getWorkflow(id, true)).
func (s *e2tServer) run(t *testing.T, id string) model.Workflow {
	t.Helper()
	return s.workflow(t, id)
}

// await reads the run until ok accepts it (up to 10 s of real time: the
// engine works asynchronously to the calls that moved it).
func (s *e2tServer) await(t *testing.T, id, what string, ok func(model.Workflow) bool) model.Workflow {
	t.Helper()
	var wf model.Workflow
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		wf = s.run(t, id)
		if ok(wf) {
			return wf
		}
	}
	t.Fatalf("run %s never %s: %s, %d tasks %s", id, what, wf.Status, len(wf.Tasks), e2tTaskLine(wf))
	return wf
}

func (s *e2tServer) awaitStatus(t *testing.T, id, want string) model.Workflow {
	t.Helper()
	return s.await(t, id, "reached "+want, func(w model.Workflow) bool { return string(w.Status) == want })
}

// settle gives the engine a moment to arm the timer of what the test just
// saw recorded (a retry's delay is armed right after its SCHEDULED record
// is saved, relative to the clock then): moving the clock before would
// move the timer with it.
func (s *e2tServer) settle() { time.Sleep(30 * time.Millisecond) }

// advanceTo moves the clock to the epoch millisecond ms (never back).
func (s *e2tServer) advanceTo(t *testing.T, ms int64) {
	t.Helper()
	d := time.UnixMilli(ms).Sub(s.clock.Now())
	if d < 0 {
		t.Fatalf("the clock is past %d by %s", ms, -d)
	}
	s.clock.Advance(d)
}

func e2tTaskLine(wf model.Workflow) string {
	var b []byte
	for _, tk := range wf.Tasks {
		b = append(b, ' ')
		b = append(b, tk.ReferenceTaskName+":"+tk.TaskType+":"+string(tk.Status)...)
	}
	return string(b)
}
