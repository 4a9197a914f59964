package server_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// TestStartRefusalsAnsweredAsConductor: the status and ErrorResponse of
// each start Conductor refuses, as its REST layer maps the exception
// (ApplicationExceptionMapper: NotFoundException 404,
// IllegalArgumentException 400, anything it does not map 500; only a
// TransientException retryable), through the Go client (its error's
// status) and as sent (the body's members):
//   - a workflow without a definition: NotFoundException, 404, in
//     MetadataMapperService's words for a StartWorkflowRequest and
//     MetadataServiceImpl's for POST /api/workflow/{name};
//   - a SUB_WORKFLOW task naming, without a version, a workflow without a
//     definition: MetadataMapperService's TerminateWorkflowException,
//     unmapped, so 500, not retryable (registered or inline definition);
//   - a StartWorkflowRequest whose input is null: validateWorkflow's
//     IllegalArgumentException, 400.
//
// An input that is not a JSON object stays a 400 naming it: Conductor's
// Jackson fails on it, an exception its mapper leaves unmapped (500),
// which conductor-oss#1325 reports as a bug; wfrun answers bad JSON 400
// (TestConductorBadRequests).
func TestStartRefusalsAnsweredAsConductor(t *testing.T) {
	c := newE2EClient(t, nil)
	for _, def := range []string{
		`{"name":"srf_parent","version":1,"schemaVersion":2,"tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"srf_missing"}}]}`,
		`{"name":"srf_wait","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`,
	} {
		if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	const noChild = "The Task srf_missing defined as a sub-workflow has no workflow definition available "
	inline := `{"name":"srf_inline","version":1,"schemaVersion":2,"tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"srf_missing"}}]}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		message          string
		retryable        bool
	}{
		{"no definition", "/api/workflow", `{"name":"srf_nope"}`, 404, "No such workflow defined. name=srf_nope, version=null", false},
		{"no definition of that version", "/api/workflow", `{"name":"srf_wait","version":3}`, 404, "No such workflow defined. name=srf_wait, version=3", false},
		{"no definition, by name", "/api/workflow/srf_nope", `{}`, 404, "No such workflow found by name: srf_nope, version: null", false},
		{"no definition of that version, by name", "/api/workflow/srf_wait?version=3", `{}`, 404, "No such workflow found by name: srf_wait, version: 3", false},
		{"a child without definition", "/api/workflow", `{"name":"srf_parent"}`, 500, noChild, false},
		{"a child without definition, by name", "/api/workflow/srf_parent", `{}`, 500, noChild, false},
		{"a child without definition, inline", "/api/workflow", `{"name":"srf_inline","workflowDef":` + inline + `}`, 500, noChild, false},
		{"a null input", "/api/workflow", `{"name":"srf_wait","input":null}`, 400, "NULL input passed when starting workflow", false},
		{"an input not an object", "/api/workflow/srf_wait", `[1]`, 400, "workflow input must be a JSON object", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, ctype, body := c.ts.do(t, "POST", tc.path, tc.body)
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil || ctype != "application/json" {
				t.Fatalf("%d %s %s: not a JSON ErrorResponse", st, ctype, body)
			}
			if st != tc.status || got["status"] != float64(tc.status) || got["message"] != tc.message || got["retryable"] != tc.retryable ||
				got["instance"] == nil || len(got) != 4 {
				t.Fatalf("%d %s; want %d {status %d, message %q, instance, retryable %v}", st, body, tc.status, tc.status, tc.message, tc.retryable)
			}
		})
	}

	// The Go client sees the same statuses, and starts a run whose input
	// it leaves out.
	var swagger client.GenericSwaggerError
	_, resp, err := c.wc.StartWorkflowWithRequest(c.ctx, model.StartWorkflowRequest{Name: "srf_parent"})
	if !errors.As(err, &swagger) || status(resp) != 500 || swagger.StatusCode() != 500 {
		t.Errorf("Go client, a child without definition: %v (status %d), want 500", err, status(resp))
	}
	_, resp, err = c.wc.StartWorkflow(c.ctx, map[string]any{}, "srf_nope", &client.WorkflowResourceApiStartWorkflowOpts{Version: optional.NewInt32(2)})
	if err == nil || status(resp) != 404 {
		t.Errorf("Go client, no definition: %v (status %d), want 404", err, status(resp))
	}
	if id, _, err := c.wc.StartWorkflowWithRequest(c.ctx, model.StartWorkflowRequest{Name: "srf_wait"}); err != nil || id == "" {
		t.Errorf("Go client, no input: %q %v, want a run", id, err)
	}
}
