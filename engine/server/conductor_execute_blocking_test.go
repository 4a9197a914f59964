package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Definitions whose blocking task depends on where it stands in the task
// list, a sub-workflow's list included.
var blockingDefs = []string{
	`{"name":"blk_child","version":1,"schemaVersion":2,"tasks":[
	  {"name":"c","taskReferenceName":"c","type":"SET_VARIABLE","inputParameters":{"token":"${workflow.secrets.api_key}"}},
	  {"name":"cw","taskReferenceName":"cw","type":"WAIT"}]}`,
	`{"name":"blk_parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"s","taskReferenceName":"s","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"blk_child","version":1}}]}`,
	`{"name":"blk_fork","version":1,"schemaVersion":2,"tasks":[
	  {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"w","taskReferenceName":"w","type":"WAIT"}],
	    [{"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{"x":1}}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["w","a"]}]}`,
	`{"name":"blk_quick","version":1,"schemaVersion":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{"token":"${workflow.secrets.api_key}"}}]}`,
	`{"name":"blk_signal","version":1,"schemaVersion":2,"tasks":[
	  {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"s","taskReferenceName":"s","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"blk_child","version":1}}],
	    [{"name":"w1","taskReferenceName":"w1","type":"WAIT"},{"name":"w2","taskReferenceName":"w2","type":"WAIT"}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["s","w2"]}]}`,
}

// blockingAnswer is the part of a SignalResponse these tests read.
type blockingAnswer struct {
	ResponseType         string         `json:"responseType"`
	TargetWorkflowID     string         `json:"targetWorkflowId"`
	TargetWorkflowStatus string         `json:"targetWorkflowStatus"`
	WorkflowID           string         `json:"workflowId"`
	Ref                  string         `json:"referenceTaskName"`
	Input                map[string]any `json:"input"`
	Tasks                []struct {
		Ref string `json:"referenceTaskName"`
	} `json:"tasks"`
}

// TestExecuteBlockingTaskOrder: the synchronous execution answers with
// Conductor's findBlockingTasks — the first blocking task in the order of
// the task list, descending into a running sub-workflow where its task
// stands: a task of waitUntilTaskRef that ended in a child run blocks (and
// its run is the blocking workflow); a WAIT task listed before an ended
// waitUntilTaskRef task blocks first; an ended waitUntilTaskRef task blocks
// whether or not its run has completed since. The resolved secret is in no
// answer.
func TestExecuteBlockingTaskOrder(t *testing.T) {
	const value = "blocking-SECRET-value-51c3"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	for _, def := range blockingDefs {
		if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	for _, c := range []struct {
		name, query string
		// want: the blocking task's reference (BLOCKING_TASK) or one of
		// the blocking run's task references (BLOCKING_WORKFLOW).
		want       string
		childRun   bool   // the answer is about a run other than the target
		wantStatus string // the target's status ("": either)
	}{
		{"ref ended in a sub-workflow", "blk_parent/1?returnStrategy=BLOCKING_TASK&waitUntilTaskRef=c", "c", true, "RUNNING"},
		{"its run blocks", "blk_parent/1?returnStrategy=BLOCKING_WORKFLOW&waitUntilTaskRef=c", "c", true, "RUNNING"},
		{"WAIT listed before the ended ref", "blk_fork/1?returnStrategy=BLOCKING_TASK&waitUntilTaskRef=a", "w", false, "RUNNING"},
		{"ended ref of a completed run", "blk_quick/0?returnStrategy=BLOCKING_TASK&waitUntilTaskRef=a", "a", false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, ct, body := ts.do(t, "POST", "/api/workflow/execute/"+c.query, `{"input":{}}`)
			if st != 200 || !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("%d %s %s", st, ct, body)
			}
			if strings.Contains(body, value) {
				t.Fatalf("the answer holds the secret value: %s", body)
			}
			var got blockingAnswer
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if (c.wantStatus != "" && got.TargetWorkflowStatus != c.wantStatus) || (got.WorkflowID != got.TargetWorkflowID) != c.childRun {
				t.Errorf("target %s %s, answer about %s (want a child run: %v): %s", got.TargetWorkflowID, got.TargetWorkflowStatus, got.WorkflowID, c.childRun, body)
			}
			if strings.Contains(c.query, "BLOCKING_TASK") {
				if got.Ref != c.want {
					t.Errorf("blocking task %q, want %q: %s", got.Ref, c.want, body)
				}
				return
			}
			var refs []string
			for _, task := range got.Tasks {
				refs = append(refs, task.Ref)
			}
			if !strings.Contains(","+strings.Join(refs, ",")+",", ","+c.want+",") {
				t.Errorf("blocking run's tasks %v, want %s among them: %s", refs, c.want, body)
			}
		})
	}
}

// TestSignalSyncBlockingTaskOrder: after a signal, the synchronous signal
// answers with the first blocking task in task-list order too: the
// signal completes the run's own WAIT task w1 (Conductor signals a run's
// own WAIT task before a sub-workflow's), and the blocking task is then
// the child's WAIT task, whose SUB_WORKFLOW task is listed before the
// run's next WAIT task w2.
func TestSignalSyncBlockingTaskOrder(t *testing.T) {
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", "signal-order-value-77a0")
	for _, def := range blockingDefs {
		if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	id := startByName(t, ts, "blk_signal")
	var child string
	ts.waitRun(t, id, "w1 waiting, its sub-workflow started", func(d runDoc) bool {
		var refs []string
		w1 := false
		for _, task := range d.Tasks {
			refs = append(refs, task.Ref)
			w1 = w1 || (task.Ref == "w1" && task.Status == "IN_PROGRESS")
		}
		_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
		var full struct {
			Tasks []struct {
				Ref   string `json:"referenceTaskName"`
				Child string `json:"subWorkflowId"`
			} `json:"tasks"`
		}
		_ = json.Unmarshal([]byte(body), &full)
		for _, task := range full.Tasks {
			if task.Ref == "s" {
				child = task.Child
			}
		}
		listed := "," + strings.Join(refs, ",") + ","
		return w1 && child != "" && strings.Contains(listed, ",s,") && strings.Index(listed, ",s,") < strings.Index(listed, ",w1,")
	})
	ts.waitRun(t, child, "cw waiting", func(d runDoc) bool {
		return len(d.Tasks) == 2 && d.Tasks[1].Ref == "cw" && d.Tasks[1].Status == "IN_PROGRESS"
	})
	st, _, body := ts.do(t, "POST", "/api/tasks/"+id+"/COMPLETED/signal/sync?returnStrategy=BLOCKING_TASK", `{"ok":true}`)
	var got blockingAnswer
	if st != 200 || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("signal sync: %d %s", st, body)
	}
	if got.Ref != "cw" || got.WorkflowID != child || got.TargetWorkflowID != id {
		t.Errorf("blocking task %s of run %s (want cw of %s): %s", got.Ref, got.WorkflowID, child, body)
	}
	d := ts.waitRun(t, id, "w1 signalled", func(d runDoc) bool { return len(d.Tasks) >= 3 })
	for _, task := range d.Tasks {
		if task.Ref == "w1" && task.Status != "COMPLETED" {
			t.Errorf("w1 %s, want COMPLETED (the signal's target)", task.Status)
		}
	}
}
