package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A run an earlier wfrun archived carries no head seal: `wfrun show`
// refuses to show it as authentic, naming the run and the flag that
// believes it, and shows it with --trust-unsealed-runs, which show accepts.
func TestShowUnsealedRunNeedsTrust(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "x", "--value", "show-unsealed-value") // the store's key
	rs, err := runstore.OpenBolt(filepath.Join(home, "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const id = "earlier-run"
	if err := rs.Commit(ctx, id, &runstore.Change{Summary: runstore.Summary{ID: id, WorkflowType: "w", Status: "RUNNING"}, Head: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	doc := `{"workflowId":"earlier-run","workflowType":"w","version":1,"status":"COMPLETED","input":{},"output":{},"variables":{},"tasks":[]}`
	if err := rs.Archive(ctx, id, []byte(doc), runstore.Summary{ID: id, WorkflowType: "w", Status: "COMPLETED", Archived: true}); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	out, errOut, code := wfrun(t, "", "show", id)
	if code == 0 || !strings.Contains(errOut, id) || !strings.Contains(errOut, "--trust-unsealed-runs") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("show of an unsealed run: exit %d, stdout %q, stderr %q; want one line naming the run and --trust-unsealed-runs", code, out, errOut)
	}
	out, errOut, code = wfrun(t, "", "show", id, "--trust-unsealed-runs", "-o", "json")
	if code != 0 || !strings.Contains(out, `"status": "COMPLETED"`) && !strings.Contains(out, `"status":"COMPLETED"`) {
		t.Fatalf("show --trust-unsealed-runs: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
