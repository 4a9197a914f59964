package server_test

import (
	"fmt"
	"testing"
)

// The ports of conductor-oss's e2e SubWorkflowInlineTests and
// DoWhileWithDomainTests. The definitions the Java tests build in code are
// transcribed in testdata/conductor/transcribed/e2e_subworkflow_*.json and
// e2e_dowhile_domain_parent.json (random name suffixes fixed).

// TestE2ESubWorkflowInlineDefinition ports DoWhileWithDomainTests
// .testSubWorkflow0version and the first part of SubWorkflowInlineTests
// .testSubWorkflow0version: a parent whose second task is a SUB_WORKFLOW
// with an inline workflowDefinition. Once its first task (dt2) is
// completed the run is RUNNING with dt2 COMPLETED and the SUB_WORKFLOW task
// IN_PROGRESS with its child; once the child's task is completed both
// parent tasks are COMPLETED. SubWorkflowInlineTests completes the
// SUB_WORKFLOW task itself instead (updateTask, the child's id as
// workflowInstanceId): both parent tasks are COMPLETED and the child runs
// on.
func TestE2ESubWorkflowInlineDefinition(t *testing.T) {
	for _, tc := range []struct{ test, file, name string }{
		{"DoWhileWithDomainTests", "e2e_dowhile_domain_parent.json", "KD3WB"},
		{"SubWorkflowInlineTests", "e2e_subworkflow_inline_parent.json", "QX7PA"},
	} {
		t.Run(tc.test, func(t *testing.T) {
			ts := ctlServer(t)
			ctlRegister(t, ts, tc.file)
			id := ctlStart(t, ts, `{"name":"`+tc.name+`","version":1}`)
			ctlAwait(t, ts, id, func(d ctlDoc) string {
				if len(d.Tasks) == 0 {
					return "no tasks"
				}
				return ""
			})
			first := ctlGet(t, ts, id).Tasks[0]
			ctlUpdateSync(t, ts, id, first.Ref, "COMPLETED", `{}`)
			d := ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Status != "RUNNING" || len(d.Tasks) < 2 || d.Tasks[0].Status != "COMPLETED" ||
					d.Tasks[1].Status != "IN_PROGRESS" || d.Tasks[1].SubWorkflowID == "" {
					return "want RUNNING, task 0 COMPLETED, task 1 IN_PROGRESS with its child"
				}
				return ""
			})
			child := d.Tasks[1].SubWorkflowID
			if tc.test == "SubWorkflowInlineTests" {
				// The Java test then completes the parent's SUB_WORKFLOW
				// task itself through updateTask: its task id, with the
				// child's id as workflowInstanceId.
				ctlReadable(t, ts, child)
				ctlUpdate(t, ts, child, d.Tasks[1].TaskID, "COMPLETED", `{}`)
				ctlAwait(t, ts, id, func(d ctlDoc) string {
					if d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].Status != "COMPLETED" {
						return "want both tasks COMPLETED"
					}
					return ""
				})
				ctlDetachedChild(t, ts, id, child)
				return
			}
			ctlUpdate(t, ts, child, ctlFirstTaskID(t, ts, child), "COMPLETED", `{}`)
			ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].Status != "COMPLETED" {
					return "want both tasks COMPLETED"
				}
				return ""
			})
		})
	}
}

// TestE2ESubWorkflowDefinitionFromStringExpression ports
// SubWorkflowInlineTests.testSubWorkflowDefinitionFromStringExpression: the
// SUB_WORKFLOW's workflowDefinition is "${wf_builder.output.result}"; the
// test completes wf_builder with the definition (a DO_WHILE of INLINE and
// SWITCH tasks, a SIMPLE task on the high path). The SUB_WORKFLOW task is
// IN_PROGRESS with its child; in the child, iteration 1 runs by itself and
// iteration 2 schedules high_task__2 with input category "high"; once it is
// completed the child completes with loopsDone 2 and allDone true, and the
// parent completes.
func TestE2ESubWorkflowDefinitionFromStringExpression(t *testing.T) {
	ts := ctlServer(t)
	b := ctlRegister(t, ts, "e2e_subworkflow_from_expression.json")
	id := ctlStart(t, ts, `{"name":"inline_expr_parent_x1y2z3","version":1,"input":{"iterations":2,"threshold":5}}`)
	d := ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) != 1 || d.Tasks[0].Status != "SCHEDULED" {
			return "want 1 task SCHEDULED"
		}
		return ""
	})
	ctlUpdate(t, ts, id, d.Tasks[0].TaskID, "COMPLETED", `{"result":`+string(b.BuilderOutput)+`}`)
	d = ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) != 2 || d.Tasks[1].Status != "IN_PROGRESS" || d.Tasks[1].SubWorkflowID == "" {
			return "want 2 tasks, the SUB_WORKFLOW IN_PROGRESS with its child"
		}
		return ""
	})
	child := d.Tasks[1].SubWorkflowID
	ctlReadable(t, ts, child)
	c := ctlAwait(t, ts, child, func(d ctlDoc) string {
		high := d.byRef("high_task__2")
		if high == nil || high.Status != "SCHEDULED" || high.InputData["category"] != "high" {
			return "high_task__2 not SCHEDULED with category high"
		}
		return ""
	})
	ctlUpdate(t, ts, child, c.byRef("high_task__2").TaskID, "COMPLETED", `{"label":"high","done":true}`)
	ctlAwait(t, ts, child, func(d ctlDoc) string {
		if d.Status != "COMPLETED" || ctlNum(d.Output["loopsDone"]) != 2 || d.Output["allDone"] != true {
			return fmt.Sprintf("child output %v, want COMPLETED with loopsDone 2, allDone true", d.Output)
		}
		return ""
	})
	ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
}

// TestE2ESubWorkflowParams ports the SubWorkflowInlineTests cases on a
// parent whose only task is a SUB_WORKFLOW of a registered (or inline)
// child: what the child is started with and which version runs.
func TestE2ESubWorkflowParams(t *testing.T) {
	for _, tc := range []struct {
		test, file, parent string
		// builder: the parent's first task returns the child's definition
		builder bool
		check   func(t *testing.T, ts *conductorServer, id, child string)
	}{
		{test: "testPriorityPropagatedFromSubWorkflowParams", file: "e2e_subworkflow_priority.json", parent: "priority_parent_a1b2c3",
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				d := ctlGet(t, ts, id)
				if len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" {
					t.Fatalf("parent %s, want its one task IN_PROGRESS", d.shape())
				}
				if c := ctlGet(t, ts, child); c.Priority != 7 {
					t.Errorf("child priority %d, want 7", c.Priority)
				}
			}},
		{test: "testDynamicInlineSubWorkflowMarkedInSystemMetadata", file: "e2e_subworkflow_dynamic_mark.json", parent: "dynamic_mark_parent_a1b2c3", builder: true,
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				if d := ctlGet(t, ts, id); len(d.Tasks) != 2 {
					t.Fatalf("parent %s, want 2 tasks", d.shape())
				}
				meta, ok := ctlGet(t, ts, child).Input["_systemMetadata"].(map[string]any)
				if !ok || meta["dynamic"] != true {
					t.Errorf("child input _systemMetadata = %v, want a map with dynamic true", meta)
				}
			}},
		{test: "testIdempotencyKeyForwardedWithoutBreakingExecution", file: "e2e_subworkflow_idempotency_key.json", parent: "idempotency_parent_a1b2c3",
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				if d := ctlGet(t, ts, id); len(d.Tasks) != 1 || d.Tasks[0].Status != "IN_PROGRESS" {
					t.Fatalf("parent %s, want its one task IN_PROGRESS", d.shape())
				}
				ctlUpdate(t, ts, child, ctlFirstTaskID(t, ts, child), "COMPLETED", `{}`)
				ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
			}},
		{test: "testExplicitVersionRoutesToCorrectSubWorkflowVersion", file: "e2e_subworkflow_explicit_version.json", parent: "version_parent_a1b2c3",
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				ctlUpdate(t, ts, child, ctlFirstTaskID(t, ts, child), "COMPLETED", `{}`)
				ctlAwait(t, ts, child, func(d ctlDoc) string {
					if d.Status != "COMPLETED" || d.Output["version"] != "v1" {
						return fmt.Sprintf("child output %v, want COMPLETED with version v1", d.Output)
					}
					return ""
				})
			}},
		{test: "testRegisteredSubWorkflowNotMarkedDynamic", file: "e2e_subworkflow_registered.json", parent: "nodyn_parent_a1b2c3",
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				if meta, ok := ctlGet(t, ts, child).Input["_systemMetadata"]; ok && meta != nil {
					t.Errorf("child input _systemMetadata = %v, want none", meta)
				}
			}},
		{test: "testStaticInlineSubWorkflowAlsoMarkedDynamic", file: "e2e_subworkflow_static_inline.json", parent: "static_dyn_parent_a1b2c3",
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				meta, ok := ctlGet(t, ts, child).Input["_systemMetadata"].(map[string]any)
				if !ok || meta["dynamic"] != true {
					t.Errorf("child input _systemMetadata = %v, want a map with dynamic true", meta)
				}
			}},
		{test: "testVersionZeroTreatedAsLatest", file: "e2e_subworkflow_version_zero.json", parent: "ver0_parent_a1b2c3",
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				ctlUpdate(t, ts, child, ctlFirstTaskID(t, ts, child), "COMPLETED", `{}`)
				ctlAwait(t, ts, child, func(d ctlDoc) string {
					if d.Status != "COMPLETED" || d.Output["version"] != "v2" {
						return fmt.Sprintf("child output %v, want COMPLETED with version v2", d.Output)
					}
					return ""
				})
			}},
		{test: "testIdempotencyKeyAndStrategyBothForwardedWithoutBreakingExecution", file: "e2e_subworkflow_idempotency_strategy.json", parent: "idp_strat_parent_a1b2c3",
			check: func(t *testing.T, ts *conductorServer, id, child string) {
				d := ctlGet(t, ts, id)
				if d.Tasks[0].Status != "IN_PROGRESS" {
					t.Fatalf("parent %s, want its task IN_PROGRESS", d.shape())
				}
				if got := d.Tasks[0].InputData["idempotencyKey"]; got != "e2e-idempotency-key-a1b2c3" {
					t.Errorf("SUB_WORKFLOW inputData idempotencyKey = %v", got)
				}
				if got := fmt.Sprint(d.Tasks[0].InputData["idempotencyStrategy"]); got != "RETURN_EXISTING" {
					t.Errorf("SUB_WORKFLOW inputData idempotencyStrategy = %v", got)
				}
				ctlUpdate(t, ts, child, ctlFirstTaskID(t, ts, child), "COMPLETED", `{}`)
				ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
			}},
	} {
		t.Run(tc.test, func(t *testing.T) {
			ts := ctlServer(t)
			b := ctlRegister(t, ts, tc.file)
			id := ctlStart(t, ts, `{"name":"`+tc.parent+`","version":1}`)
			task := 0
			if tc.builder {
				d := ctlAwait(t, ts, id, func(d ctlDoc) string {
					if len(d.Tasks) == 0 || d.Tasks[0].Status != "SCHEDULED" {
						return "want the builder task SCHEDULED"
					}
					return ""
				})
				ctlUpdate(t, ts, id, d.Tasks[0].TaskID, "COMPLETED", `{"result":`+string(b.BuilderOutput)+`}`)
				task = 1
			}
			tc.check(t, ts, id, ctlSubWorkflowID(t, ts, id, task))
		})
	}
}
