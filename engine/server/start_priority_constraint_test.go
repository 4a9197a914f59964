package server_test

import (
	"encoding/json"
	"testing"
)

// TestStartPriorityConstraint: a start whose priority is outside 0..99 is
// refused as Conductor's bean validation refuses it (ValidationException-
// Mapper): 400, "Validation failed, check below errors for detail.", no
// instance, not retryable, and one validationErrors entry with the
// constraint's path, its message and the refused value. A request body
// breaks StartWorkflowRequest's constraint; POST /api/workflow/{name}
// breaks WorkflowService.startWorkflow's own, whose words differ. It is
// checked before the definition is looked for: an unknown workflow gets
// the same answer.
func TestStartPriorityConstraint(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	type violation struct {
		Path    string  `json:"path"`
		Message string  `json:"message"`
		Invalid *string `json:"invalidValue"`
	}
	for _, tc := range []struct {
		path, body, wantPath, wantMsg, wantValue string
	}{
		{"/api/workflow", `{"name":"one_simple","priority":100}`, "startWorkflow.startWorkflowRequest.priority", "priority: 100 should be maximum 99", "100"},
		{"/api/workflow", `{"name":"nowhere","priority":-1}`, "startWorkflow.startWorkflowRequest.priority", "priority: -1 should be minimum 0", "-1"},
		{"/api/workflow/one_simple?priority=100", `{}`, "startWorkflow.priority", "99 is the maximum priority value", "100"},
		{"/api/workflow/nowhere?priority=-5", `{}`, "startWorkflow.priority", "0 is the minimum priority value", "-5"},
	} {
		st, ct, body := ts.do(t, "POST", tc.path, tc.body)
		var got struct {
			Status           int         `json:"status"`
			Message          string      `json:"message"`
			Instance         *string     `json:"instance"`
			Retryable        *bool       `json:"retryable"`
			ValidationErrors []violation `json:"validationErrors"`
		}
		if st != 400 || ct != "application/json" || json.Unmarshal([]byte(body), &got) != nil {
			t.Errorf("%s %s: %d %s %s; want a 400 JSON answer", tc.path, tc.body, st, ct, body)
			continue
		}
		if got.Status != 400 || got.Message != "Validation failed, check below errors for detail." || got.Instance != nil ||
			got.Retryable == nil || *got.Retryable || len(got.ValidationErrors) != 1 {
			t.Errorf("%s %s: %s; want Conductor's constraint answer", tc.path, tc.body, body)
			continue
		}
		if v := got.ValidationErrors[0]; v.Path != tc.wantPath || v.Message != tc.wantMsg || v.Invalid == nil || *v.Invalid != tc.wantValue {
			t.Errorf("%s %s: violation %s; want %s %q %s", tc.path, tc.body, body, tc.wantPath, tc.wantMsg, tc.wantValue)
		}
	}
	// In range, both starts go on.
	if st, _, body := ts.do(t, "POST", "/api/workflow", `{"name":"one_simple","priority":99}`); st != 200 {
		t.Errorf("priority 99: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/workflow/one_simple?priority=0", `{}`); st != 200 {
		t.Errorf("priority 0: %d %s", st, body)
	}
}
