package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/store"
)

// Remote workers get their secrets resolved when their poll takes the
// task (SPEC §6, Conductor's EnvBackedSecretsSpec: "only resolved at
// hand-off (on worker poll)"), not when the task is queued.

// rotatingWf is a SIMPLE task whose input and declared runtimeMetadata
// read the secret TOKEN; its input reads ONLY too (declared nowhere else).
const (
	rotatingTaskDef = `[{"name":"rotating_task","runtimeMetadata":["TOKEN"],"responseTimeoutSeconds":60}]`
	rotatingWf      = `{"name":"rotating_wf","version":1,"tasks":[{"name":"rotating_task","taskReferenceName":"rotating_ref","type":"SIMPLE",
	  "inputParameters":{"auth":"Bearer ${workflow.secrets.TOKEN}","kept":"$<workflow.secrets.TOKEN>","who":"${workflow.input.who}","only":"${workflow.secrets.ONLY}"}}]}`
)

func registerRotating(t *testing.T, ts *conductorServer, hdr ...string) {
	t.Helper()
	if code, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", rotatingTaskDef, hdr...); code != http.StatusOK {
		t.Fatalf("register task definition: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "POST", "/api/metadata/workflow", rotatingWf, hdr...); code != http.StatusOK {
		t.Fatalf("register workflow: %d %s", code, body)
	}
}

// waitScheduled waits until the run shows rotating_ref SCHEDULED (offered
// to the workers) and returns its stored input.
func waitScheduled(t *testing.T, wc client.WorkflowClient, id string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		wf, _, err := wc.GetExecutionStatus(context.Background(), id, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)})
		if err != nil {
			continue
		}
		if wf.Status != "RUNNING" {
			t.Fatalf("run %s before any poll: %s", wf.Status, wf.ReasonForIncompletion)
		}
		for _, task := range wf.Tasks {
			if task.ReferenceTaskName == "rotating_ref" && task.Status == "SCHEDULED" {
				return task.InputData
			}
		}
	}
	t.Fatal("rotating_ref was never SCHEDULED")
	return nil
}

// tokenReads returns the audit trail's reads of TOKEN for run id.
func tokenReads(t *testing.T, st store.Store, id string) []store.AuditEvent {
	t.Helper()
	aud, ok := store.AuditorOf(st)
	if !ok {
		t.Fatal("the store keeps no audit trail")
	}
	evs, err := aud.ReadAudit(context.Background(), store.AuditFilter{Run: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range evs {
		// A read for no task is the run's start checking that its
		// definition holds no value of a secret it names (engine
		// defvalues.go): the task's input is not resolved then.
		if e.Op == store.OpGet && e.Name == "TOKEN" && e.Task != "" {
			out = append(out, e)
		}
	}
	return out
}

// TestPollGetsSecretRotatedAfterQueueing: TOKEN is rotated (a new version
// put in the store) after the task was queued and before a worker polls
// it: the worker (Conductor Go SDK) gets the NEW value, in its input and
// in its runtimeMetadata; nothing was read while the task waited, and the
// audit trail records the reads at the poll, for the run and the task's
// ref. The worker echoes the value: the stored output has it masked.
func TestPollGetsSecretRotatedAfterQueueing(t *testing.T) {
	const oldV, newV, onlyV = "tok-old-Hq7Kd2Lm", "tok-new-Vx4Nb8Rs", "only-Gt5Yw1Zs"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "TOKEN", oldV)
	putSecret(t, ts.store, "ONLY", onlyV)
	registerRotating(t, ts)
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc := client.NewWorkflowClient(api)
	ctx := context.Background()
	id, resp, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "rotating_wf", Version: 1, Input: map[string]any{"who": "ada"}})
	if err != nil || id == "" {
		t.Fatalf("start: %q %v (status %d)", id, err, status(resp))
	}
	stored := waitScheduled(t, wc, id)
	if stored["auth"] != "Bearer ${workflow.secrets.TOKEN}" || stored["who"] != "ada" {
		t.Fatalf("stored input %v", stored)
	}
	if reads := tokenReads(t, ts.store, id); len(reads) != 0 {
		t.Fatalf("TOKEN was read while the task waited for a worker: %+v", reads)
	}
	time.Sleep(30 * time.Millisecond) // the queued task waits
	// Audit records keep milliseconds: a read in the same millisecond as
	// the rotation is not before it.
	rotated := time.Now().Truncate(time.Millisecond)
	putSecret(t, ts.store, "TOKEN", newV)

	// Raw batch poll: the Go SDK's Task has no runtimeMetadata.
	code, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/rotating_task?workerid=w1&count=5&timeout=2000", "")
	var got []model.Task
	var raw []map[string]any
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || json.Unmarshal([]byte(body), &raw) != nil || len(got) != 1 {
		t.Fatalf("poll: %d %s", code, body)
	}
	if got[0].InputData["auth"] != "Bearer "+newV || got[0].InputData["kept"] != "$<workflow.secrets.TOKEN>" || got[0].InputData["who"] != "ada" ||
		got[0].InputData["only"] != onlyV {
		t.Fatalf("polled input %v: want the rotated token, $<…> verbatim and the run input", got[0].InputData)
	}
	if md, _ := raw[0]["runtimeMetadata"].(map[string]any); md["TOKEN"] != newV {
		t.Fatalf("polled runtimeMetadata %v: want the rotated token", raw[0]["runtimeMetadata"])
	}
	reads := tokenReads(t, ts.store, id)
	if len(reads) == 0 {
		t.Fatal("no audited read of TOKEN for the run")
	}
	for _, e := range reads {
		// The trail keeps milliseconds.
		if e.Task != "rotating_ref" || e.Outcome != store.OutcomeAllowed || e.Version != 2 || e.Time.Before(rotated.Truncate(time.Millisecond)) {
			t.Errorf("audited read %+v: want task rotating_ref, allowed, version 2, at the poll (after %s)", e, rotated.Format(time.RFC3339Nano))
		}
	}

	if _, resp, err := client.NewTaskClient(api).UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: id, TaskId: got[0].TaskId,
		Status: "COMPLETED", OutputData: map[string]any{"echo": "got " + newV, "md": newV, "only": "and " + onlyV}}); err != nil {
		t.Fatalf("UpdateTask: %v (status %d)", err, status(resp))
	}
	if st := waitStatus(t, wc, id, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("status %s", st.Status)
	}
	_, _, exec := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	if !strings.Contains(exec, `"echo":"got ***"`) || !strings.Contains(exec, `"md":"***"`) || !strings.Contains(exec, `"only":"and ***"`) {
		t.Errorf("execution: want the echoed token masked:\n%s", exec)
	}
	run, _, err := ts.runs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{oldV, newV, onlyV} {
		if strings.Contains(string(run), v) || strings.Contains(exec, v) {
			t.Errorf("the stored run or the execution holds %q", v)
		}
	}
	ts.assertNoLeak(t, oldV, newV, onlyV)
}

// TestPollFailsTaskOnUnreadableSecret: a secret the run may not read (its
// principal lacks the scope), or one deleted while the task waited, fails
// the task when a worker polls it, with the reason naming the secret;
// that poll gets no task (and waits on for others, answering []).
func TestPollFailsTaskOnUnreadableSecret(t *testing.T) {
	for _, tc := range []struct {
		name, starter, reason string
		deleteFirst           bool
	}{
		{name: "forbidden", starter: "app-reader", reason: "forbidden"},
		{name: "deleted while queued", starter: "app-all", reason: "not found", deleteFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newConductorServer(t, nil, serverWithAuth(t))
			putSecret(t, ts.store, "TOKEN", "tok-Jw3Pz8Qc")
			putSecret(t, ts.store, "ONLY", "only-Jw3Pz8Qc")
			all := token(t, ts)
			registerRotating(t, ts, "X-Authorization", all)
			starter := all
			if tc.starter != "app-all" {
				_, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"app-reader","keySecret":"app-reader-secret-0123456789"}`)
				var tok struct{ Token string }
				if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
					t.Fatalf("token: %s", body)
				}
				starter = tok.Token
			}
			code, _, id := ts.do(t, "POST", "/api/workflow/rotating_wf", `{"who":"ada"}`, "X-Authorization", starter)
			if code != http.StatusOK {
				t.Fatalf("start: %d %s", code, id)
			}
			cfg := settings.NewHttpSettings(ts.URL + "/api")
			api := client.NewAPIClient(settings.NewAuthenticationSettings("app-all", "app-all-secret-0123456789"), cfg)
			wc := client.NewWorkflowClient(api)
			waitScheduled(t, wc, id)
			if tc.deleteFirst {
				if err := ts.store.Delete(context.Background(), "TOKEN"); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			code, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/rotating_task?workerid=w1&count=5&timeout=300", "", "X-Authorization", all)
			if code != http.StatusOK || strings.TrimSpace(body) != "[]" {
				t.Fatalf("poll: %d %s, want 200 []", code, body)
			}
			if waited := time.Since(start); waited < 250*time.Millisecond {
				t.Errorf("the poll answered after %s: want it to wait on (timeout 300 ms) once the failed task is dropped", waited)
			}
			st := waitStatus(t, wc, id, 10*time.Second)
			if st.Status != "FAILED" {
				t.Fatalf("run %s, want FAILED", st.Status)
			}
			wf, _, err := wc.GetExecutionStatus(context.Background(), id, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)})
			if err != nil || len(wf.Tasks) != 1 {
				t.Fatalf("execution: %+v %v", wf, err)
			}
			task := wf.Tasks[0]
			// The reason a failure at scheduling gave before: the location,
			// the secret's name and why.
			if task.Status != "FAILED_WITH_TERMINAL_ERROR" || !strings.HasPrefix(task.ReasonForIncompletion, `/tasks/0/inputParameters/auth: secret "TOKEN": cannot be resolved`) ||
				!strings.Contains(strings.ToLower(task.ReasonForIncompletion), tc.reason) {
				t.Fatalf("task %s %q: want FAILED_WITH_TERMINAL_ERROR naming TOKEN (%s)", task.Status, task.ReasonForIncompletion, tc.reason)
			}
			if strings.Contains(task.ReasonForIncompletion, "tok-Jw3Pz8Qc") {
				t.Fatal("the reason holds the value")
			}
		})
	}
}
