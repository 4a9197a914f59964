package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowRerunTests' reruns inside a FORK inside a DO_WHILE (PR #3596).

// containing is Java's filter(ref.contains(part) && pred).findFirst().
func containing(v runView, part string, pred func(taskView) bool) (taskView, bool) {
	for _, tk := range v.Tasks {
		if strings.Contains(tk.Ref, part) && pred(tk) {
			return tk, true
		}
	}
	return taskView{}, false
}

func TestConductorE2ERerunForkInsideDoWhile(t *testing.T) {
	runRerunCases(t, []rerunCase{
		{"testRerunSubWorkflowTaskInsideForkInsideDoWhilePreservesCancelledSibling", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-dw-fork-parent", "")
			var failing, cancelled string
			h.await(id, "both branches with children", func(v runView) string {
				a, okA := containing(v, "branchA_dw", func(tk taskView) bool { return tk.SubWorkflowID != "" })
				b, okB := containing(v, "branchB_dw", func(tk taskView) bool { return tk.SubWorkflowID != "" })
				if !okA || !okB {
					return "not yet"
				}
				if c, err := h.view(a.SubWorkflowID); err != nil || len(c.Tasks) == 0 {
					return "failing child without tasks"
				}
				failing, cancelled = a.SubWorkflowID, b.SubWorkflowID
				return ""
			})
			inner := h.active(failing, "failing_inner_dw")
			h.answer(failing, "failing_inner_dw", engine.TaskFailed)
			h.awaitStatus(id, engine.StatusFailed)
			h.await(cancelled, "terminal-unsuccessful", func(v runView) string {
				if v.Status == engine.StatusRunning || v.Status == engine.StatusPaused || v.Status == engine.StatusCompleted {
					return v.Status
				}
				return ""
			})

			h.rerun(failing, engine.RerunOptions{FromTaskID: inner.TaskID})
			h.awaitStatus(id, engine.StatusRunning)
			h.await(id, "both branches active again, in place", func(v runView) string {
				active := func(tk taskView) bool { return !terminal(tk.Status) }
				b, ok := containing(v, "branchB_dw", active)
				if !ok || b.SubWorkflowID != cancelled {
					return "branchB: " + describeRun(v)
				}
				if c, err := h.view(cancelled); err != nil || terminal(taskStatusOfRun(c.Status)) {
					return "the cancelled child is not running again"
				}
				a, ok := containing(v, "branchA_dw", active)
				if !ok || a.SubWorkflowID != failing || a.Reason != "" {
					return "branchA: " + describeRun(v)
				}
				return ""
			})
			h.active(failing, "failing_inner_dw")
			h.answer(failing, "failing_inner_dw", engine.TaskCompleted)
			h.active(cancelled, "cancelled_inner_dw")
			h.answer(cancelled, "cancelled_inner_dw", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunSecondIterationFailureInForkInsideDoWhile", func(t *testing.T, h *rerunHarness) {
			id := h.start("parent_rerun", "")
			at := func(branch string, iteration int) string {
				var c string
				h.await(id, branch+" of an iteration", func(v runView) string {
					tk, ok := firstRef(v, branch+"__"+string(rune('0'+iteration)))
					if !ok || tk.SubWorkflowID == "" {
						return "not materialised yet"
					}
					c = tk.SubWorkflowID
					return ""
				})
				return c
			}
			only := func(child, ref string) taskView {
				v := h.await(child, "", func(runView) string { return "" })
				var got []taskView
				for _, tk := range v.Tasks {
					if tk.Ref == ref {
						got = append(got, tk)
					}
				}
				if len(got) != 1 {
					t.Fatalf("expected exactly one %s in %s: %s", ref, child, describeRun(v))
				}
				return got[0]
			}
			type snap struct {
				end                  any
				inline, simple       string
				inlineEnd, simpleEnd any
				retries              int
			}
			snapshot := func(child string) snap {
				raw := h.rawRun(child)
				tasks := h.rawTasks(child)
				s := snap{end: raw["endTime"], retries: only(child, "simple_ref").RetryCount}
				for _, tk := range tasks {
					switch tk["referenceTaskName"] {
					case "inline_ref":
						s.inline, s.inlineEnd = tk["taskId"].(string), tk["endTime"]
					case "simple_ref":
						s.simple, s.simpleEnd = tk["taskId"].(string), tk["endTime"]
					}
				}
				return s
			}
			iter1A, iter1B := at("sub_workflow_ref_1", 1), at("sub_workflow_ref", 1)
			for _, c := range []string{iter1A, iter1B} {
				h.active(c, "simple_ref")
				h.answer(c, "simple_ref", engine.TaskCompleted)
				h.awaitStatus(c, engine.StatusCompleted)
			}
			snapA, snapB := snapshot(iter1A), snapshot(iter1B)
			iter2A, iter2B := at("sub_workflow_ref_1", 2), at("sub_workflow_ref", 2)
			h.await(iter2B, "inline_ref COMPLETED", statusIs("", "inline_ref="+engine.TaskCompleted))
			inlineBefore := only(iter2B, "inline_ref")
			inlineBeforeEnd := h.rawTasks(iter2B)[0]["endTime"]
			failed := h.active(iter2A, "simple_ref")
			h.answer(iter2A, "simple_ref", engine.TaskFailed)
			h.awaitStatus(id, engine.StatusFailed)

			h.rerun(iter2A, engine.RerunOptions{FromTaskID: failed.TaskID})
			h.awaitStatus(id, engine.StatusRunning)
			for c, before := range map[string]snap{iter1A: snapA, iter1B: snapB} {
				if v := h.await(c, "", func(runView) string { return "" }); v.Status != engine.StatusCompleted {
					t.Fatalf("%s must stay COMPLETED: %s", c, v.Status)
				}
				if now := snapshot(c); now != before {
					t.Fatalf("iteration 1 child %s changed: %+v, was %+v", c, now, before)
				}
			}
			h.await(iter2B, "iteration 2 branchB inline preserved", func(v runView) string {
				tk := only(iter2B, "inline_ref")
				if tk.Status != engine.TaskCompleted || tk.TaskID != inlineBefore.TaskID || h.rawTasks(iter2B)[0]["endTime"] != inlineBeforeEnd {
					return "changed: " + describeRun(v)
				}
				return ""
			})
			for _, c := range []string{iter2A, iter2B} {
				h.active(c, "simple_ref")
				h.answer(c, "simple_ref", engine.TaskCompleted)
			}
			h.awaitStatus(id, engine.StatusCompleted)
		}},
	})
}
