package server_test

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/engine"
)

// TestE2ESubWorkflowVersion ports SubWorkflowVersionTests
// .testSubWorkflowNullVersion and .testSubWorkflowEmptyVersion on
// RegistrationUtil.registerWorkflowWithSubWorkflowDef's definitions
// (transcribed/e2e_subworkflow_version.json): the parent's SUB_WORKFLOW
// names its child without a version (the Java test sets it null, or
// replaces the subWorkflowParam by one with the name only, with the child
// registered as versions 1 and 2). The child's task completed, the parent
// completes; with two versions the record's workflowTask has the version
// that ran, 2.
func TestE2ESubWorkflowVersion(t *testing.T) {
	for _, test := range []string{"testSubWorkflowNullVersion", "testSubWorkflowEmptyVersion"} {
		t.Run(test, func(t *testing.T) {
			ts := ctlServer(t)
			b := ctlRegister(t, ts, "e2e_subworkflow_version.json")
			var defs []json.RawMessage
			if err := json.Unmarshal(b.WorkflowDefs, &defs); err != nil {
				t.Fatal(err)
			}
			parent, sub := string(defs[0]), string(defs[1])
			var err error
			if test == "testSubWorkflowNullVersion" {
				parent, err = sjson.Delete(parent, "tasks.0.subWorkflowParam.version")
			} else {
				v1, _ := sjson.Set(sub, "version", 1)
				v2, _ := sjson.Set(sub, "version", 2)
				ctlUpdateDefs(t, ts, "["+v1+"]")
				ctlUpdateDefs(t, ts, "["+v2+"]")
				parent, err = sjson.SetRaw(parent, "tasks.0.subWorkflowParam", `{"name":"SUBWF"}`)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctlUpdateDefs(t, ts, "["+parent+"]")
			id := ctlStart(t, ts, `{"name":"PRNTW","version":1}`)
			child := ctlSubWorkflowID(t, ts, id, 0)
			ctlUpdate(t, ts, child, ctlFirstTaskID(t, ts, child), "COMPLETED", `{}`)
			d := ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
			if test == "testSubWorkflowEmptyVersion" {
				p, _ := d.Tasks[0].WorkflowTask["subWorkflowParam"].(map[string]any)
				if ctlNum(p["version"]) != 2 {
					t.Errorf("task 0 workflowTask.subWorkflowParam = %v, want version 2", p)
				}
			}
		})
	}
}

// TestE2ESubWorkflowTimeoutRetry ports SubWorkflowTimeoutRetryTests.test on
// integration_test_wf_with_sub_wf (sub_workflow_tests.json: timeoutSeconds
// 5, TIME_OUT_WF): with integration_task_1 completed the SUB_WORKFLOW task
// is IN_PROGRESS and its child RUNNING; 7 s later (the engine clock moved)
// the parent is TIMED_OUT with its SUB_WORKFLOW task CANCELED and the child
// TERMINATED. Retrying the child (retryLastFailedTask) runs it again: its
// task CANCELED and a new one SCHEDULED.
func TestE2ESubWorkflowTimeoutRetry(t *testing.T) {
	clock := engine.NewManualClock(time.Now())
	ts := ctlServer(t, engine.WithClock(clock))
	ctlUpdateDefs(t, ts, ctlFile(t, "sub_workflow_tests.json"))
	id := ctlStart(t, ts, `{"name":"integration_test_wf_with_sub_wf","version":1,"correlationId":"wf_with_subwf_test_1","input":{"param1":"p1 value","subwf":"sub_workflow"}}`)
	t1 := ctlPending(t, ts, id, "t1")
	ctlUpdate(t, ts, id, t1.TaskID, "COMPLETED", `{}`)
	ctlAwait(t, ts, id, func(d ctlDoc) string {
		if len(d.Tasks) != 2 || d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].TaskType != "SUB_WORKFLOW" || d.Tasks[1].Status != "IN_PROGRESS" {
			return "want 2 tasks: COMPLETED, SUB_WORKFLOW IN_PROGRESS"
		}
		return ""
	})
	child := ctlSubWorkflowID(t, ts, id, 1)
	if c := ctlGet(t, ts, child); c.Status != "RUNNING" {
		t.Fatalf("child %s, want RUNNING", c.shape())
	}
	clock.Advance(7 * time.Second)
	ctlCall(t, ts, "PUT", "/api/workflow/decide/"+id, "")
	ctlAwait(t, ts, id, ctlShape("TIMED_OUT integration_task_1:COMPLETED SUB_WORKFLOW:CANCELED"))
	ctlAwait(t, ts, child, ctlStatus("TERMINATED"))
	ctlCall(t, ts, "POST", "/api/workflow/"+child+"/retry", "")
	ctlAwait(t, ts, child, func(d ctlDoc) string {
		if d.Status != "RUNNING" || len(d.Tasks) < 2 || d.Tasks[0].Status != "CANCELED" || d.Tasks[1].Status != "SCHEDULED" {
			return "want RUNNING, task 0 CANCELED, task 1 SCHEDULED"
		}
		return ""
	})
}

// TestE2ESubWorkflowScheduledRace ports SubWorkflowScheduledRaceTests
// .parentSubWorkflowTaskMustNotPointAtPhantomChild: 50 parents started at
// once (16 at a time), each with a SUB_WORKFLOW of a child of one INLINE
// task, all complete; each parent's SUB_WORKFLOW task names a child whose
// id is Conductor's IDGenerator derivation from the parent's id and the
// task's id (retry count 0) and whose parentWorkflowId is that parent, no
// two parents share a child, and no "phantom" run exists (the id derived
// from the child's id in the parent's place).
func TestE2ESubWorkflowScheduledRace(t *testing.T) {
	ts := ctlServer(t)
	ctlRegister(t, ts, "e2e_subworkflow_race.json")
	ids := make([]string, 50)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			st, _, body := ts.do(t, "POST", "/api/workflow", `{"name":"sw_race_parent_r4c3s1","version":1}`)
			if st != 200 {
				t.Errorf("start: %d %s", st, body)
			}
			ids[i] = body
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	children := map[string]string{}
	for _, pid := range ids {
		d := ctlAwait(t, ts, pid, ctlStatus("COMPLETED"))
		var child, taskID string
		for _, tk := range d.Tasks {
			if tk.TaskType == "SUB_WORKFLOW" {
				child, taskID = tk.SubWorkflowID, tk.TaskID
				break
			}
		}
		if child == "" {
			t.Fatalf("parent %s has no subWorkflowId attached", pid)
		}
		if other, ok := children[child]; ok {
			t.Fatalf("parents %s and %s share child %s", other, pid, child)
		}
		children[child] = pid
		if want := e2eChildID(pid, taskID, 0); child != want {
			t.Fatalf("parent %s's subWorkflowId %s is not the id derived from the parent and its task, %s", pid, child, want)
		}
		if c := ctlGet(t, ts, child); c.ParentWorkflowID != pid {
			t.Fatalf("child %s has parentWorkflowId %q, want %s", child, c.ParentWorkflowID, pid)
		}
		phantom := e2eChildID(child, taskID, 0)
		if st, _, body := ts.do(t, "GET", "/api/workflow/"+phantom+"?includeTasks=false", ""); st != 404 {
			t.Fatalf("phantom run %s of parent %s: %d %s, want 404", phantom, pid, st, body)
		}
	}
	if len(children) != 50 {
		t.Fatalf("%d children for 50 parents", len(children))
	}
}

// e2eChildID is what the Java test's deterministicSubWorkflowId computes,
// Conductor's IDGenerator.generateSubWorkflowId: Java's
// UUID.nameUUIDFromBytes (an MD5 name-based UUID, version 3, without a
// namespace) of "subworkflow:<parent>:<task>:<retryCount>".
func e2eChildID(parent, task string, retry int) string {
	sum := md5.Sum([]byte(fmt.Sprintf("subworkflow:%s:%s:%d", parent, task, retry)))
	sum[6] = sum[6]&0x0f | 0x30
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}
