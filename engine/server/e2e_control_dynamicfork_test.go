package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// The ports of conductor-oss's e2e DynamicForkTests and
// SubWorkflowVersionTests.testDynamicSubWorkflow. DynamicFanInOutTest
// (transcribed/e2e_dynamic_fork_fan_in_out.json): dt1 (a worker task the
// test completes with the dynamic tasks and their inputs), a
// FORK_JOIN_DYNAMIC, its JOIN.

// ctlDynamicStart starts name and completes its dt1 task with output.
func ctlDynamicStart(t *testing.T, ts *conductorServer, name, output string) string {
	t.Helper()
	id := ctlStart(t, ts, `{"name":"`+name+`","version":1}`)
	dt1 := ctlPending(t, ts, id, "dt1")
	ctlUpdate(t, ts, id, dt1.TaskID, "COMPLETED", output)
	return id
}

// TestE2EDynamicForkRetriedBranch ports DynamicForkTests
// .testTaskDynamicForkOptional and .testTaskDynamicForkRetryCount (the
// latter @Disabled in Conductor for a race of its async JOIN): two forked
// worker tasks, xdt1 and xdt2 (optional, or with retryCount 2 and xdt1
// with a sink). The run has 5 tasks, the forked ones SCHEDULED and the
// JOIN IN_PROGRESS; xdt2 failed is retried (its definition's retryCount 3,
// or the task's 2): 6 tasks, xdt2 FAILED and its retry SCHEDULED, the run
// RUNNING; with xdt1 and the retry completed the run completes.
func TestE2EDynamicForkRetriedBranch(t *testing.T) {
	for _, tc := range []struct{ test, workflow, tasks string }{
		{"testTaskDynamicForkOptional", "DynamicFanInOutTest",
			`[{"name":"integration_task_2","taskReferenceName":"xdt1","type":"SIMPLE"},{"name":"integration_task_3","taskReferenceName":"xdt2","type":"SIMPLE","optional":true}]`},
		{"testTaskDynamicForkRetryCount", "DynamicFanInOutTest1",
			`[{"name":"integration_task_2","taskReferenceName":"xdt1","type":"SIMPLE","optional":true,"sink":"kitchen_sink"},{"name":"integration_task_3","taskReferenceName":"xdt2","type":"SIMPLE","retryCount":2}]`},
	} {
		t.Run(tc.test, func(t *testing.T) {
			// The real clock: the retry is SCHEDULED with its
			// definition's retryDelaySeconds (60) to wait before a poll
			// gets it, and the update of it is taken at once, as
			// Conductor's updateTask takes a task its queue holds with a
			// delay.
			ts := ctlServer(t)
			ctlRegister(t, ts, "e2e_dynamic_fork_fan_in_out.json")
			id := ctlDynamicStart(t, ts, tc.workflow, `{"dynamicTasks":`+tc.tasks+`,"dynamicTasksInput":{"xdt1":{"k1":"v1"},"xdt2":{"k2":"v2"}}}`)
			d := ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Status != "RUNNING" || len(d.Tasks) != 5 || d.Tasks[2].Status != "SCHEDULED" || d.Tasks[3].Status != "SCHEDULED" || d.Tasks[4].Status != "IN_PROGRESS" {
					return "want RUNNING, 5 tasks, 2 and 3 SCHEDULED, 4 IN_PROGRESS"
				}
				return ""
			})
			if tc.test == "testTaskDynamicForkRetryCount" && d.Tasks[2].WorkflowTask["sink"] != "kitchen_sink" {
				t.Errorf("task 2 workflowTask.sink = %v, want kitchen_sink", d.Tasks[2].WorkflowTask["sink"])
			}
			ctlUpdate(t, ts, id, d.Tasks[3].TaskID, "FAILED", `{}`)
			d = ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Status != "RUNNING" || len(d.Tasks) != 6 || d.Tasks[2].Status != "SCHEDULED" || d.Tasks[3].Status != "FAILED" ||
					d.Tasks[4].Status != "IN_PROGRESS" || d.Tasks[5].Status != "SCHEDULED" {
					return "want RUNNING, 6 tasks: 2 SCHEDULED, 3 FAILED, 4 IN_PROGRESS, 5 SCHEDULED"
				}
				return ""
			})
			if cb := d.Tasks[5].CallbackAfterSeconds; cb != 60 {
				t.Errorf("the retry's callbackAfterSeconds = %d, want its retryDelaySeconds 60", cb)
			}
			// Held back from polls during its delay.
			if got := ctlCall(t, ts, "GET", "/api/tasks/poll/batch/integration_task_3?count=1&timeout=0", ""); got != "[]" {
				t.Errorf("a poll of integration_task_3 during the retry's delay got %s, want []", got)
			}
			ctlUpdate(t, ts, id, d.Tasks[2].TaskID, "COMPLETED", `{}`)
			ctlUpdate(t, ts, id, d.Tasks[5].TaskID, "COMPLETED", `{}`)
			ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Status != "COMPLETED" || len(d.Tasks) != 6 || d.Tasks[2].Status != "COMPLETED" || d.Tasks[3].Status != "FAILED" ||
					d.Tasks[4].Status != "COMPLETED" || d.Tasks[5].Status != "COMPLETED" {
					return "want COMPLETED, 6 tasks: 2 COMPLETED, 3 FAILED, 4 and 5 COMPLETED"
				}
				return ""
			})
		})
	}
}

// TestE2EDynamicForkSubWorkflowTask ports DynamicForkTests
// .testTaskDynamicForkEmptyTaskName and SubWorkflowVersionTests
// .testDynamicSubWorkflow: the dynamic task is a SUB_WORKFLOW (without a
// name, or named integration_task_2) of a registered child without a
// version. The run has 4 tasks: dt1 and the fork COMPLETED, the
// SUB_WORKFLOW task IN_PROGRESS with its child (of version 1) and the JOIN
// IN_PROGRESS. testDynamicSubWorkflow then completes the SUB_WORKFLOW task
// through updateTask: the run completes, the child runs on.
func TestE2EDynamicForkSubWorkflowTask(t *testing.T) {
	for _, tc := range []struct{ test, file, workflow, tasks, input string }{
		{"testTaskDynamicForkEmptyTaskName", "e2e_dynamic_fork_fan_in_out.json", "DynamicFanInOutTest",
			`[{"taskReferenceName":"test_task","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"http_sub_wf_test"}}]`, `{}`},
		{"testDynamicSubWorkflow", "e2e_dynamic_subworkflow_version.json", "DynamicFanInOutTest_Version",
			`[{"name":"integration_task_2","taskReferenceName":"xdt1","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"test_subworkflow"}}]`, `{"xdt1":{"k1":"v1"}}`},
	} {
		t.Run(tc.test, func(t *testing.T) {
			ts := ctlServer(t)
			ctlRegister(t, ts, tc.file)
			id := ctlDynamicStart(t, ts, tc.workflow, `{"dynamicTasks":`+tc.tasks+`,"dynamicTasksInput":`+tc.input+`}`)
			d := ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Status != "RUNNING" || len(d.Tasks) != 4 || d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].Status != "COMPLETED" ||
					d.Tasks[2].Status != "IN_PROGRESS" || d.Tasks[2].SubWorkflowID == "" || d.Tasks[3].Status != "IN_PROGRESS" {
					return "want RUNNING, 4 tasks: 0 and 1 COMPLETED, 2 IN_PROGRESS with its child, 3 IN_PROGRESS; reason " + d.Reason
				}
				return ""
			})
			if v := d.Tasks[2].InputData["subWorkflowVersion"]; ctlNum(v) != 1 {
				t.Errorf("SUB_WORKFLOW inputData subWorkflowVersion = %v, want 1", v)
			}
			child := d.Tasks[2].SubWorkflowID
			ctlReadable(t, ts, child)
			if tc.test != "testDynamicSubWorkflow" {
				return // the Java test terminates both runs, asserting nothing
			}
			// The Java test then completes the SUB_WORKFLOW task itself
			// through updateTask (its task id, the parent's id): the run
			// completes, with 4 tasks.
			ctlUpdate(t, ts, id, d.Tasks[2].TaskID, "COMPLETED", `{}`)
			d = ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Status != "COMPLETED" || len(d.Tasks) != 4 {
					return "want COMPLETED with 4 tasks"
				}
				for i, tk := range d.Tasks {
					if tk.Status != "COMPLETED" {
						return fmt.Sprintf("want task %d COMPLETED", i)
					}
				}
				return ""
			})
			if v := d.Tasks[2].InputData["subWorkflowVersion"]; ctlNum(v) != 1 {
				t.Errorf("SUB_WORKFLOW inputData subWorkflowVersion = %v, want 1", v)
			}
			ctlDetachedChild(t, ts, id, child)
		})
	}
}

// TestE2EDynamicForkNullTaskReferenceName ports DynamicForkTests
// .testTaskDynamicForkNullTaskReferenceName: a dynamic task without a
// taskReferenceName fails the run, which has only dt1 (COMPLETED), with a
// reason naming the invalid dynamicTasks input.
func TestE2EDynamicForkNullTaskReferenceName(t *testing.T) {
	ts := ctlServer(t)
	ctlRegister(t, ts, "e2e_dynamic_fork_fan_in_out.json")
	id := ctlDynamicStart(t, ts, "DynamicFanInOutTest", `{"dynamicTasks":[{"taskReferenceName":null,"type":"SUB_WORKFLOW","subWorkflowParam":{"name":"http"}}],"dynamicTasksInput":{}}`)
	ctlAwait(t, ts, id, func(d ctlDoc) string {
		if d.Status != "FAILED" || len(d.Tasks) != 1 || d.Tasks[0].Status != "COMPLETED" || !strings.Contains(d.Reason, "Input 'dynamicTasks' is invalid") {
			return fmt.Sprintf("want FAILED, 1 task COMPLETED, reason with Input 'dynamicTasks' is invalid; reason %q", d.Reason)
		}
		return ""
	})
}

// TestE2EDynamicForkJoinOnScript ports DynamicForkTests.joinOnScript on
// dyn_fork_test.json: an INLINE task returns three optional SIMPLE tasks;
// the JOIN has a script that stays IN_PROGRESS while a joined task is not
// COMPLETED. With simple_1 and simple_2 completed the JOIN (task 5) stays
// IN_PROGRESS; with simple_3 completed it and the run complete.
func TestE2EDynamicForkJoinOnScript(t *testing.T) {
	ts := ctlServer(t)
	ctlUpdateDefs(t, ts, "["+ctlFile(t, "dyn_fork_test.json")+"]")
	id := ctlStart(t, ts, `{"name":"dyn_fork_test","version":1}`)
	joinIs := func(run, join string) func(ctlDoc) string {
		return func(d ctlDoc) string {
			if d.Status != run || len(d.Tasks) != 6 || d.Tasks[5].Status != join || d.Tasks[5].TaskType != "JOIN" || d.Tasks[5].Ref != "join_1" {
				return "want " + run + ", 6 tasks, task 5 join_1 JOIN " + join
			}
			return ""
		}
	}
	d := ctlAwait(t, ts, id, joinIs("RUNNING", "IN_PROGRESS"))
	for i, ref := range []string{"simple_1", "simple_2"} {
		if tk := d.Tasks[2+i]; tk.Ref != ref || tk.Status != "SCHEDULED" {
			t.Fatalf("task %d is %s %s, want %s SCHEDULED", 2+i, tk.Ref, tk.Status, ref)
		}
		ctlUpdate(t, ts, id, d.Tasks[2+i].TaskID, "COMPLETED", `{}`)
	}
	ctlAwait(t, ts, id, func(d ctlDoc) string {
		if d.Tasks[2].Status != "COMPLETED" || d.Tasks[3].Status != "COMPLETED" {
			return "simple_1 and simple_2 not COMPLETED"
		}
		return ""
	})
	// The Java test looks five times over 5 s; the JOIN is evaluated when
	// a joined task ends, so a few looks after both ended are the same.
	for i := 0; i < 5; i++ {
		if why := joinIs("RUNNING", "IN_PROGRESS")(ctlGet(t, ts, id)); why != "" {
			t.Fatal(why)
		}
	}
	d = ctlGet(t, ts, id)
	if tk := d.Tasks[4]; tk.Ref != "simple_3" || tk.Status != "SCHEDULED" {
		t.Fatalf("task 4 is %s %s, want simple_3 SCHEDULED", tk.Ref, tk.Status)
	}
	ctlUpdate(t, ts, id, d.Tasks[4].TaskID, "COMPLETED", `{}`)
	ctlAwait(t, ts, id, joinIs("COMPLETED", "COMPLETED"))
}

// TestE2EDynamicForkCorrectTaskIDOnRetries ports DynamicForkTests
// .testCorrectTaskIdOnRetries (@Disabled in Conductor for a race of its
// async JOIN) on mailbot_workflow (cpewf_task_id_dyn_fork_wf.json) and the
// fail_on_purpose task definition (retryCount 2, retryDelaySeconds 1): an
// INLINE task returns one dynamic task whose input is ${CPEWF_TASK_ID}; a
// worker fails it each time. The run FAILS after 3 attempts, and each
// attempt's input task_id is its own task id. The engine clock runs 20
// times faster than real time (the retry delays last 50 ms).
func TestE2EDynamicForkCorrectTaskIDOnRetries(t *testing.T) {
	ts := ctlServer(t, engine.WithClock(newCtlFastClock(20)))
	ctlTaskDefs(t, ts, "["+ctlFile(t, "cpewf_task_id_dyn_fork_task_def.json")+"]")
	ctlUpdateDefs(t, ts, "["+ctlFile(t, "cpewf_task_id_dyn_fork_wf.json")+"]")
	ctlWorkersStatus(t, ts, []string{"fail_on_purpose"}, "", "FAILED", func(string, map[string]any) map[string]any {
		return map[string]any{"message": "Failing task on purpose"}
	})
	id := ctlStart(t, ts, `{"name":"mailbot_workflow","version":219}`)
	d := ctlAwait(t, ts, id, func(d ctlDoc) string {
		n := 0
		for _, tk := range d.Tasks {
			if tk.TaskDefName == "fail_on_purpose" {
				n++
			}
		}
		if d.Status != "FAILED" || n != 3 {
			return fmt.Sprintf("%s with %d attempts, want FAILED with 3", d.Status, n)
		}
		return ""
	})
	for _, tk := range d.Tasks {
		if tk.TaskDefName == "fail_on_purpose" && tk.InputData["task_id"] != tk.TaskID {
			t.Errorf("attempt %s has input task_id %v", tk.TaskID, tk.InputData["task_id"])
		}
	}
}
