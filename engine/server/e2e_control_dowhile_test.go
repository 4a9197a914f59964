package server_test

import (
	"fmt"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// TestE2EDoWhileWaitSwitchIteration ports DoWhileEdgeCasesTests
// .testDoWhileWaitSwitchIteration: do_while_wait_switch_iteration_test
// (unmodified but for the HTTP host) loops while the variable status is not
// "Completed"; each iteration waits on a WAIT task. The test completes the
// IN_PROGRESS WAIT ten times, nine with result "b" (SET_VARIABLE status
// RUNNING) and the tenth with "a" (status Completed): the run completes and
// the DO_WHILE's output iteration is 10.
func TestE2EDoWhileWaitSwitchIteration(t *testing.T) {
	ts := ctlServer(t)
	ctlUpdateDefs(t, ts, "["+ctlTester(t, ctlFile(t, "do_while_wait_switch_iteration_test.json"))+"]")
	id := ctlStart(t, ts, `{"name":"do_while_wait_switch_iteration_test"}`)
	for i := 0; i < 10; i++ {
		var wait *ctlTask
		ctlAwait(t, ts, id, func(d ctlDoc) string {
			for j := range d.Tasks {
				if d.Tasks[j].TaskType == "WAIT" && d.Tasks[j].Status == "IN_PROGRESS" {
					wait = &d.Tasks[j]
					return ""
				}
			}
			return fmt.Sprintf("no WAIT task in progress at iteration %d", i)
		})
		result := "b"
		if i == 9 {
			result = "a"
		}
		ctlUpdate(t, ts, id, wait.TaskID, "COMPLETED", `{"result":"`+result+`"}`)
	}
	d := ctlAwait(t, ts, id, func(d ctlDoc) string {
		if d.Status != "COMPLETED" {
			return "not COMPLETED"
		}
		return ""
	})
	loop := d.byRef("do_while_ref")
	if loop == nil {
		t.Fatal("no do_while_ref task")
	}
	if it, ok := loop.OutputData["iteration"]; !ok || ctlNum(it) != 10 {
		t.Errorf("do_while_ref output iteration = %v, want 10", it)
	}
}

// TestE2EDoWhileIterationCount ports DoWhileEdgeCasesTests
// .testDoWhileKeepLastNSwitch and .testStackoverflower: runs that loop on
// their own until their condition ends them, and the DO_WHILE task's output
// iteration then: do_while_keep_last_n_switch_test (keepLastN 3, SWITCHes
// in the loop, stops once iteration > 25) iterates 26 times; stackoverflower
// with n=50 (an INLINE task a turn, no stack overflow) 50 times.
func TestE2EDoWhileIterationCount(t *testing.T) {
	for _, tc := range []struct {
		test, file, name, input, ref string
		want                         int
	}{
		{"testDoWhileKeepLastNSwitch", "do_while_keep_last_n_switch_test.json", "do_while_keep_last_n_switch_test", `{}`, "do_while_ref", 26},
		{"testStackoverflower", "stackoverflower.json", "stackoverflower", `{"n":50}`, "loop_ref", 50},
	} {
		t.Run(tc.test, func(t *testing.T) {
			ts := ctlServer(t)
			ctlUpdateDefs(t, ts, "["+ctlFile(t, tc.file)+"]")
			id := ctlStart(t, ts, `{"name":"`+tc.name+`","input":`+tc.input+`}`)
			d := ctlAwait(t, ts, id, func(d ctlDoc) string {
				if d.Status != "COMPLETED" {
					return "not COMPLETED"
				}
				return ""
			})
			loop := d.byRef(tc.ref)
			if loop == nil {
				t.Fatalf("no %s task", tc.ref)
			}
			if it, ok := loop.OutputData["iteration"]; !ok || ctlNum(it) != tc.want {
				t.Errorf("%s output iteration = %v, want %d", tc.ref, it, tc.want)
			}
		})
	}
}

// TestE2EDoWhileScriptIsNotEvaledEarly ports DoWhileTests
// .testDoWhileScriptIsNotEvaledEarlyWhenSyncSystemTaskInside on
// DoWhileEarlyEvalScript (do_while_early_script_eval_wf.json): with the
// loop's first task answered (namespace_enabled true), the SWITCH inside
// the loop has completed, the loop is still IN_PROGRESS and its next worker
// task SCHEDULED — the loopCondition is not evaluated before the loop's
// tasks ran. Once the last task of the iteration is answered by reference
// (updateTaskSync), the Workflow it answers has the loop COMPLETED and
// return_token_ref SCHEDULED; answering that completes the run. The Java
// test repeats the whole 10 times (a race it hunted); so does the port.
func TestE2EDoWhileScriptIsNotEvaledEarly(t *testing.T) {
	ts := ctlServer(t)
	ctlUpdateDefs(t, ts, ctlFile(t, "do_while_early_script_eval_wf.json"))
	for i := 0; i < 10; i++ {
		id := ctlStart(t, ts, `{"name":"DoWhileEarlyEvalScript","input":{"namespace_id":"namespace_spa_sAPhRsGAGAbYNUSNZN3Jts"}}`)
		tk := ctlPending(t, ts, id, "reserve_token_ref")
		ctlUpdate(t, ts, id, tk.TaskID, "COMPLETED", `{"token_id":"2WdNxfi5p4lGPzbZD3IpDvruaWs"}`)
		tk = ctlPending(t, ts, id, "acquire_token_ref")
		ctlUpdate(t, ts, id, tk.TaskID, "COMPLETED", `{"acquired_at":1697058745255}`)
		tk = ctlPending(t, ts, id, "predictions_start_daily_bq_export_pipeline__1")
		ctlUpdate(t, ts, id, tk.TaskID, "COMPLETED", `{"query_end_time":"2023-10-11T20:42:00Z","pipeline_started_at_rfc":"2023-10-11T21:12:27Z","pipeline_uid":"2WdNxykVDIDX9XpU5mtPtF0bZJi","namespace_enabled":true}`)
		d := ctlAwait(t, ts, id, func(d ctlDoc) string {
			if tk := d.byRef("predictions_get_daily_bq_export_pipeline_status_long_running__1"); tk == nil {
				return "no status task yet"
			}
			return ""
		})
		for ref, want := range map[string]string{
			"if_terminate_condition__1":                                       "COMPLETED",
			"predictions_daily_bq_export_pipeline_loop":                       "IN_PROGRESS",
			"predictions_get_daily_bq_export_pipeline_status_long_running__1": "SCHEDULED",
		} {
			if tk := d.byRef(ref); tk == nil || tk.Status != want {
				t.Fatalf("round %d: %s is %+v, want %s (%s)", i, ref, tk, want, d.shape())
			}
		}
		ctlUpdate(t, ts, id, d.byRef("predictions_get_daily_bq_export_pipeline_status_long_running__1").TaskID, "COMPLETED", `{}`)
		ctlPending(t, ts, id, "predictions_process_daily_bq_export_pipeline_results__1")
		d = ctlUpdateSync(t, ts, id, "predictions_process_daily_bq_export_pipeline_results__1", "COMPLETED", `{}`)
		if tk := d.byRef("predictions_daily_bq_export_pipeline_loop"); tk == nil || tk.Status != "COMPLETED" {
			t.Fatalf("round %d: the sync answer's loop is %+v, want COMPLETED (%s)", i, tk, d.shape())
		}
		ret := d.byRef("return_token_ref")
		if ret == nil || ret.Status != "SCHEDULED" {
			t.Fatalf("round %d: the sync answer's return_token_ref is %+v, want SCHEDULED (%s)", i, ret, d.shape())
		}
		ctlUpdate(t, ts, id, ret.TaskID, "COMPLETED", `{}`)
		ctlCall(t, ts, "PUT", "/api/workflow/decide/"+id, "")
		ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
	}
}

// TestE2EKeepLastN3 ports DoWhileTests.testKeepLstN3 on
// keep_last_n_example_3 (do_while_keep_last_n_fix.json): a fork of two
// DO_WHILE loops of 5 iterations, keepLastN 4 and 2. The test answers
// simple_ref_1, simple_ref and simple_ref_2 by reference (updateTaskSync)
// five times: the run completes with 18 tasks (the fork, its join, the two
// loops, inline and set_variable, 4 iterations of two tasks of the first
// loop and 2 of the second).
func TestE2EKeepLastN3(t *testing.T) {
	ts := ctlServer(t)
	ctlUpdateDefs(t, ts, ctlFile(t, "do_while_keep_last_n_fix.json"))
	id := ctlStart(t, ts, `{"name":"keep_last_n_example_3","input":{"batch":[[1,2],[3,4],[5,6],[7,8],[9,10]]}}`)
	for i := 0; i < 5; i++ {
		for _, ref := range []string{"simple_ref_1", "simple_ref", "simple_ref_2"} {
			ctlPending(t, ts, id, ref)
			ctlUpdateSync(t, ts, id, ref, "COMPLETED", `{}`)
		}
	}
	ctlAwait(t, ts, id, func(d ctlDoc) string {
		if d.Status != "COMPLETED" || len(d.Tasks) != 18 {
			return fmt.Sprintf("%s with %d tasks, want COMPLETED with 18", d.Status, len(d.Tasks))
		}
		return ""
	})
}

// TestE2EDoWhileSetVariableFix ports DoWhileTests.testDoWhileSetVariableFix
// on do-while-set-variable-fix (do_while_early_script_eval_wf.json): the
// first iteration takes the SWITCH's "false" case (two WAITs of 2 s around
// a SET_VARIABLE isSkipApproval=true), the second its "true" case
// (isApproved=true), which ends the loop. The run has 8 tasks, the sixth
// is wait_ref_1__1, and the seventh and eighth (the second iteration)
// started after it ended. The engine clock runs 50 times faster than real
// time (the WAITs last 40 ms).
func TestE2EDoWhileSetVariableFix(t *testing.T) {
	ts := ctlServer(t, engine.WithClock(newCtlFastClock(50)))
	ctlUpdateDefs(t, ts, ctlFile(t, "do_while_early_script_eval_wf.json"))
	id := ctlStart(t, ts, `{"name":"do-while-set-variable-fix"}`)
	ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) != 8 {
			return fmt.Sprintf("%d tasks, want 8", len(d.Tasks))
		}
		if d.Tasks[5].Ref != "wait_ref_1__1" {
			return "task 5 is " + d.Tasks[5].Ref + ", want wait_ref_1__1"
		}
		if d.Tasks[6].StartTime <= d.Tasks[5].EndTime || d.Tasks[7].StartTime <= d.Tasks[5].EndTime {
			return fmt.Sprintf("tasks 6 and 7 start at %d and %d, not after task 5 ended (%d)", d.Tasks[6].StartTime, d.Tasks[7].StartTime, d.Tasks[5].EndTime)
		}
		return ""
	})
}
