package server_test

import (
	"strings"
	"testing"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// Ports of conductor-oss e2e task/SignalTaskTest through `wfrun serve`:
// the Java test's startBlockedWorkflow (a workflow of one WAIT task,
// wait_for_signal / wait_ref, registered with updateWorkflowDefs and
// started; its task shows IN_PROGRESS), then the signal endpoints with
// plain HTTP, as the Java test calls them with OkHttp.

func signalBlockedRun(t *testing.T, s *e2tServer, wfName string) string {
	t.Helper()
	s.updateDefs(t, model.WorkflowDef{Name: wfName, Version: 1, OwnerEmail: "test@conductor.io", SchemaVersion: 2, Restartable: true,
		Tasks: []model.WorkflowTask{{Type_: "WAIT", Name: "wait_for_signal", TaskReferenceName: "wait_ref"}}})
	id := s.start(t, model.StartWorkflowRequest{Name: wfName, Version: 1})
	s.await(t, id, "blocked on its WAIT task", func(w model.Workflow) bool {
		return len(w.Tasks) > 0 && w.Tasks[0].Status == "IN_PROGRESS"
	})
	return id
}

func TestConductorE2ESignalTaskTest(t *testing.T) {
	s := newE2TServer(t)
	t.Run("testAsyncSignalCompletesWaitTask", func(t *testing.T) {
		id := signalBlockedRun(t, s, "signal_e2e_async_1")
		if code, _, body := s.do(t, "POST", "/api/tasks/"+id+"/COMPLETED/signal", "{}"); code != 200 {
			t.Fatalf("Expected 200 from async signal: %d %s", code, body)
		}
		s.await(t, id, "completed its WAIT task", func(w model.Workflow) bool { return w.Tasks[0].Status == "COMPLETED" })
	})
	t.Run("testSyncSignalReturnsWorkflowResponse", func(t *testing.T) {
		id := signalBlockedRun(t, s, "signal_e2e_sync_1")
		code, _, body := s.do(t, "POST", "/api/tasks/"+id+"/COMPLETED/signal/sync", "{}")
		if code != 200 {
			t.Fatalf("Expected 200 from sync signal: %d %s", code, body)
		}
		if !strings.Contains(body, `"targetWorkflowId"`) || !strings.Contains(body, id) || strings.Contains(body, `"signalTimeout":true`) {
			t.Fatalf("sync signal response: %s", body)
		}
	})
	for _, path := range []string{"signal", "signal/sync"} {
		name := map[string]string{"signal": "testAsyncSignalWorkflowNotFound", "signal/sync": "testSyncSignalWorkflowNotFound"}[path]
		t.Run(name, func(t *testing.T) {
			// A random UUID, as the Java test sends.
			if code, _, body := s.do(t, "POST", "/api/tasks/3f1e4c1a-6a0b-4d8e-9b1e-2f6c1c0d7a55/COMPLETED/"+path, "{}"); code != 404 {
				t.Fatalf("Expected 404 for non-existent workflow: %d %s", code, body)
			}
		})
	}
}
