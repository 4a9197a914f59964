package server_test

import (
	"strings"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
)

// TestBulkWorkflowEndpoints drives Conductor's WorkflowBulkResource through
// the Go SDK's WorkflowBulkClient: each id of the list gets what its
// single-run endpoint does (pause, resume, terminate with the reason,
// restart, retry), and an id it fails on is in bulkErrorResults with that
// endpoint's message while the others succeed; an empty list is 400.
func TestBulkWorkflowEndpoints(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRegistrationDef)
	a, b := c.start("retry-simple-workflow"), c.start("retry-simple-workflow")
	c.taskAt(a, 1)
	c.taskAt(b, 1)

	resp, _, err := c.bulk.PauseWorkflow1(c.ctx, []string{a, "no-such-run", b})
	if err != nil || strings.Join(resp.BulkSuccessfulResults, ",") != a+","+b || len(resp.BulkErrorResults) != 1 ||
		!strings.Contains(resp.BulkErrorResults["no-such-run"], "no-such-run") {
		t.Fatalf("bulk pause: %+v %v", resp, err)
	}
	c.awaitStatus(a, "PAUSED")
	c.awaitStatus(b, "PAUSED")
	if resp, _, err = c.bulk.ResumeWorkflow(c.ctx, []string{a, b}); err != nil || len(resp.BulkSuccessfulResults) != 2 {
		t.Fatalf("bulk resume: %+v %v", resp, err)
	}
	c.awaitStatus(a, "RUNNING")
	resp, _, err = c.bulk.Terminate(c.ctx, []string{a, b}, &client.WorkflowBulkResourceApiTerminateOpts{Reason: optional.NewString("by the bulk API")})
	if err != nil || len(resp.BulkSuccessfulResults) != 2 {
		t.Fatalf("bulk terminate: %+v %v", resp, err)
	}
	if wf := c.awaitStatus(b, "TERMINATED"); wf.ReasonForIncompletion != "by the bulk API" {
		t.Errorf("terminated with reason %q", wf.ReasonForIncompletion)
	}
	// a TERMINATED run can be retried or restarted, a RUNNING one not.
	c.bulkRetry(a)
	c.awaitStatus(a, "RUNNING")
	resp, _, err = c.bulk.Restart(c.ctx, []string{a, b}, nil)
	if err != nil || strings.Join(resp.BulkSuccessfulResults, ",") != b || resp.BulkErrorResults[a] == "" {
		t.Fatalf("bulk restart of a running and a terminated run: %+v %v", resp, err)
	}
	c.awaitStatus(b, "RUNNING")

	if st, ct, body := c.ts.do(t, "POST", "/api/workflow/bulk/retry", `[]`); st != 400 || !strings.HasPrefix(ct, "application/json") || !strings.Contains(body, "WorkflowIds list cannot be null.") {
		t.Errorf("empty list: %d %s %s", st, ct, body)
	}
	if st, _, body := c.ts.do(t, "POST", "/api/workflow/bulk/retry", `{"id":"x"}`); st != 400 {
		t.Errorf("not a list: %d %s", st, body)
	}
}
