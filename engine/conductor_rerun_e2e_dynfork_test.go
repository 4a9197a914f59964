package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowRerunTests' reruns of a FORK_JOIN_DYNAMIC whose branches are
// SUB_WORKFLOW tasks (PR #3596): prep_ref's worker answers the dynamic
// tasks (completeDynamicForkPrep); one branch completes, one fails with a
// terminal error, the third is cancelled.

type dynForkRun struct {
	parent, child                 string
	failing, cancelled, completed string // refs
	cF, cCa, cCo                  string // their first children
}

func newDynForkRun(t *testing.T, h *rerunHarness, sfx string) *dynForkRun {
	t.Helper()
	d := &dynForkRun{child: "sub_dynfork_" + sfx, failing: "branch_failing_" + sfx,
		cancelled: "branch_cancelled_" + sfx, completed: "branch_completed_" + sfx}
	d.parent = h.start("parent_dynfork_"+sfx, "")
	h.active(d.parent, "prep_ref")
	var dyn []map[string]any
	in := map[string]any{}
	for _, ref := range []string{d.failing, d.cancelled, d.completed} {
		dyn = append(dyn, map[string]any{"name": d.child, "taskReferenceName": ref, "type": "SUB_WORKFLOW",
			"subWorkflowParam": map[string]any{"name": d.child, "version": 1}})
		in[ref] = map[string]any{}
	}
	out, _ := json.Marshal(map[string]any{"dynamicTasks": dyn, "dynamicTasksInput": in})
	h.answerWith(d.parent, "prep_ref", engine.TaskCompleted, string(out))
	h.await(d.parent, "the three branches with children", func(v runView) string {
		for ref, c := range map[string]*string{d.failing: &d.cF, d.cancelled: &d.cCa, d.completed: &d.cCo} {
			tk, ok := firstRef(v, ref)
			if !ok || tk.SubWorkflowID == "" {
				return ref + " not materialised"
			}
			*c = tk.SubWorkflowID
		}
		return ""
	})
	h.active(d.cCo, "simple_ref")
	h.answer(d.cCo, "simple_ref", engine.TaskCompleted)
	h.awaitStatus(d.cCo, engine.StatusCompleted)
	h.active(d.cF, "simple_ref")
	h.answer(d.cF, "simple_ref", engine.TaskFailedTerminal)
	h.awaitStatus(d.parent, engine.StatusFailed)
	return d
}

// inlineOf is the only inline_ref record of run id: its task id and end time.
func (h *rerunHarness) inlineOf(id string) (string, any) {
	h.t.Helper()
	var got []map[string]any
	for _, tk := range h.rawTasks(id) {
		if tk["referenceTaskName"] == "inline_ref" {
			got = append(got, tk)
		}
	}
	if len(got) != 1 {
		h.t.Fatalf("expected exactly one inline_ref in %s, got %d", id, len(got))
	}
	return got[0]["taskId"].(string), got[0]["endTime"]
}

func TestConductorE2ERerunDynamicFork(t *testing.T) {
	runRerunCases(t, []rerunCase{
		{"testRerunInDynamicForkPreservesCancelledAndFailingSiblings", func(t *testing.T, h *rerunHarness) {
			d := newDynForkRun(t, h, "rerun")
			type inl struct {
				id  string
				end any
			}
			before := map[string]inl{}
			for _, c := range []string{d.cF, d.cCa, d.cCo} {
				id, end := h.inlineOf(c)
				before[c] = inl{id, end}
			}
			failed, _ := firstRef(h.await(d.cF, "", func(runView) string { return "" }), "simple_ref")

			h.rerun(d.cF, engine.RerunOptions{FromTaskID: failed.TaskID})
			h.awaitStatus(d.parent, engine.StatusRunning)
			h.await(d.parent, "branches kept in place", func(v runView) string {
				f, ok := activeRef(v, d.failing, 0)
				if !ok || f.SubWorkflowID != d.cF {
					return "failing branch: " + describeRun(v)
				}
				c, ok := activeRef(v, d.cancelled, 0)
				if !ok || c.SubWorkflowID != d.cCa {
					return "cancelled branch: " + describeRun(v)
				}
				co, ok := containing(v, d.completed, func(tk taskView) bool { return tk.Ref == d.completed && tk.Status == engine.TaskCompleted })
				if !ok || co.SubWorkflowID != d.cCo {
					return "completed branch: " + describeRun(v)
				}
				for c, b := range before {
					if id, end := h.inlineOf(c); id != b.id || end != b.end {
						return "inline_ref of " + c + " ran again"
					}
				}
				return ""
			})
			for _, c := range []string{d.cF, d.cCa} {
				h.active(c, "simple_ref")
				h.answer(c, "simple_ref", engine.TaskCompleted)
			}
			h.awaitStatus(d.parent, engine.StatusCompleted)
		}},
		{"testRerunFromDynamicForkTaskItselfRespawnsAllBranches", func(t *testing.T, h *rerunHarness) {
			d := newDynForkRun(t, h, "self")
			fork, _ := firstRef(h.await(d.parent, "", func(runView) string { return "" }), "dyn_fork_ref")

			h.rerun(d.parent, engine.RerunOptions{FromTaskID: fork.TaskID})
			h.awaitStatus(d.parent, engine.StatusRunning)
			var fresh []string
			h.await(d.parent, "three fresh children", func(v runView) string {
				fresh = fresh[:0]
				for ref, old := range map[string]string{d.failing: d.cF, d.cancelled: d.cCa, d.completed: d.cCo} {
					tk, ok := containing(v, ref, func(tk taskView) bool { return tk.Ref == ref && !terminal(tk.Status) && tk.SubWorkflowID != "" })
					if !ok {
						return "active " + ref + " missing"
					}
					if tk.SubWorkflowID == old {
						return ref + " kept its child"
					}
					fresh = append(fresh, tk.SubWorkflowID)
				}
				return ""
			})
			for _, c := range fresh {
				h.active(c, "simple_ref")
				h.answer(c, "simple_ref", engine.TaskCompleted)
			}
			h.awaitStatus(d.parent, engine.StatusCompleted)
		}},
	})
}
