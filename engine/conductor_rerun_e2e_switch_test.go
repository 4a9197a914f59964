package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowRerunTests.switchRerunIssue and switchRerunIssue2: a COMPLETED
// run of a definition with SWITCHes (inside a DO_WHILE for the second),
// rerun from a task, completes again with every task run again, the
// INLINE that follows the SWITCHes returning the first INLINE's result.
// The definitions are conductor-oss's e2e resources, copied unmodified.

// switchRerunState is assertSwitchRerunIssueWorkflowState (sfx "") and
// assertSwitchRerunIssue2WorkflowState (sfx "__3").
func switchRerunState(t *testing.T, v runView, sfx string) {
	t.Helper()
	if v.Status != engine.StatusCompleted {
		t.Fatalf("run %s: %s", v.Status, describeRun(v))
	}
	get := func(ref string) taskView {
		tk, ok := lastRef(v, ref+sfx)
		if !ok || tk.Status != engine.TaskCompleted {
			t.Fatalf("%s%s not COMPLETED: %s", ref, sfx, describeRun(v))
		}
		return tk
	}
	inline1, inline2 := get("inline_ref_1"), get("inline_ref_2")
	get("wait_ref")
	get("switch_ref")
	if inline1.Output["result"] == nil || inline2.Output["result"] == nil || inline1.Output["result"] != inline2.Output["result"] {
		t.Fatalf("inline results %v, %v", inline1.Output["result"], inline2.Output["result"])
	}
	if sfx == "" {
		if len(v.Tasks) != 4 {
			t.Fatalf("want 4 tasks: %s", describeRun(v))
		}
		for i, ref := range []string{"inline_ref_1", "wait_ref", "switch_ref", "inline_ref_2"} {
			if tk := get(ref); tk.Seq != i+1 {
				t.Fatalf("%s seq %d, want %d", ref, tk.Seq, i+1)
			}
		}
		return
	}
	get("switch_ref_1")
	if inline3 := get("inline_ref_3"); inline3.Output["result"] == nil || inline3.Output["result"] != inline1.Output["result"] {
		t.Fatalf("inline_ref_3 result %v, inline_ref_1's %v", inline3.Output["result"], inline1.Output["result"])
	}
}

func TestConductorE2ESwitchRerunIssues(t *testing.T) {
	for _, tc := range []struct{ name, file, sfx string }{
		{"switchRerunIssue", "switch_rerun_issue.json", ""},
		{"switchRerunIssue2", "switch_rerun_issue_2.json", "__3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := harnessEngine(t, nil)
			b, err := os.ReadFile(conductorDir + "/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			res, err := e.Start(ctx, d, json.RawMessage(`{"case":"yes"}`))
			if err != nil {
				t.Fatal(err)
			}
			v := viewRun(t, e, res.RunID)
			switchRerunState(t, v, tc.sfx)
			from := v.Tasks[0]
			if tc.sfx != "" {
				from, _ = firstRef(v, "inline_ref_1__3")
			}
			// The rerun returns once the run ended (Conductor's returns the
			// run's id at once; the Java test then awaits COMPLETED).
			again, err := e.RerunWith(ctx, res.RunID, engine.RerunOptions{FromTaskID: from.TaskID})
			if err != nil {
				t.Fatal(err)
			}
			if again.RunID != res.RunID {
				t.Fatalf("rerun returned %s, want %s", again.RunID, res.RunID)
			}
			after := viewRun(t, e, res.RunID)
			switchRerunState(t, after, tc.sfx)
		})
	}
}
