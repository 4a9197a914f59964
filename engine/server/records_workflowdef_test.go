package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestWorkflowDefinitionTaskDefinitions: the workflowDefinition GET
// /api/workflow/{id} returns is the one Conductor's start stores with the
// run after MetadataMapperService.populateTaskDefinitions has filled, for
// every task WorkflowDef.collectTasks reaches (nested cases, fork branches
// and loop bodies included), a missing taskDefinition with the registered
// definition of its name, else new TaskDef(name) (retryCount 3 and
// responseTimeoutSeconds 3600 for SIMPLE, 0 and 0 for any other type). A
// task's own inline taskDefinition stays as written.
func TestWorkflowDefinitionTaskDefinitions(t *testing.T) {
	s := newE2TServer(t)
	s.rawTaskDef(t, map[string]any{"name": "registered_task", "retryCount": 2, "timeoutSeconds": 120, "responseTimeoutSeconds": 30, "ownerEmail": "a@b.c"})
	def := `{"name":"wf_taskdefs","schemaVersion":2,"ownerEmail":"a@b.c","tasks":[
	 {"name":"registered_task","taskReferenceName":"reg","type":"SIMPLE"},
	 {"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
	  "decisionCases":{"a":[{"name":"inl","taskReferenceName":"inl","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]},
	  "defaultCase":[{"name":"own_def","taskReferenceName":"own","type":"SIMPLE","taskDefinition":{"name":"own_def","retryCount":7}}]},
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[[{"name":"w","taskReferenceName":"w","type":"WAIT"}],
	  [{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false",
	    "loopOver":[{"name":"unregistered_task","taskReferenceName":"unreg","type":"SIMPLE"}]}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["w","loop"]}]}`
	id := s.registerStart(t, def, "wf_taskdefs")
	var wf struct {
		WorkflowDefinition struct {
			Tasks []json.RawMessage `json:"tasks"`
		} `json:"workflowDefinition"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, _, body := s.do(t, "GET", "/api/workflow/"+id, "")
		if err := json.Unmarshal([]byte(body), &wf); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if len(wf.WorkflowDefinition.Tasks) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no workflowDefinition: %s", body)
		}
	}
	type task struct {
		TaskReferenceName string            `json:"taskReferenceName"`
		TaskDefinition    map[string]any    `json:"taskDefinition"`
		DecisionCases     map[string][]task `json:"decisionCases"`
		DefaultCase       []task            `json:"defaultCase"`
		ForkTasks         [][]task          `json:"forkTasks"`
		LoopOver          []task            `json:"loopOver"`
	}
	got := map[string]string{}
	var walk func([]task)
	walk = func(list []task) {
		for _, x := range list {
			d := x.TaskDefinition
			got[x.TaskReferenceName] = fmt.Sprint(d["name"], " ", d["retryCount"], " ", d["responseTimeoutSeconds"], " ", d["timeoutSeconds"])
			for _, c := range x.DecisionCases {
				walk(c)
			}
			walk(x.DefaultCase)
			walk(x.LoopOver)
			for _, f := range x.ForkTasks {
				walk(f)
			}
		}
	}
	var top []task
	for _, raw := range wf.WorkflowDefinition.Tasks {
		var x task
		if err := json.Unmarshal(raw, &x); err != nil {
			t.Fatal(err)
		}
		top = append(top, x)
	}
	walk(top)
	want := map[string]string{
		"reg":   "registered_task 2 30 120",   // the registered definition
		"sw":    "sw 0 0 0",                   // ad-hoc, not SIMPLE
		"inl":   "inl 0 0 0",                  // in a decision case
		"own":   "own_def 7 <nil> <nil>",      // its own, as written
		"fork":  "fork 0 0 0",                 //
		"w":     "w 0 0 0",                    // in a fork branch
		"loop":  "loop 0 0 0",                 //
		"unreg": "unregistered_task 3 3600 0", // ad-hoc SIMPLE, in a loop body
		"join":  "join 0 0 0",
	}
	for ref, w := range want {
		if got[ref] != w {
			t.Errorf("%s: taskDefinition %q, want %q", ref, got[ref], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tasks %v", got)
	}
}
