package server_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// hierView is the part of GET /api/workflow/{id}?includeTasks=true the
// hierarchical spec reads.
type hierView struct {
	Status string `json:"status"`
	Tasks  []struct {
		TaskID             string `json:"taskId"`
		Ref                string `json:"referenceTaskName"`
		TaskType           string `json:"taskType"`
		Status             string `json:"status"`
		SubWorkflowID      string `json:"subWorkflowId"`
		SubworkflowChanged bool   `json:"subworkflowChanged"`
	} `json:"tasks"`
}

// shape is the run's status and its tasks as "taskType:status".
func (v hierView) shape() string {
	parts := []string{v.Status}
	for _, t := range v.Tasks {
		parts = append(parts, t.TaskType+":"+t.Status)
	}
	return strings.Join(parts, " ")
}

func (v hierView) join() string {
	for _, t := range v.Tasks {
		if t.Ref == "fanouttask_join" {
			return t.TaskID
		}
	}
	return ""
}

// hierSpec drives hierarchical_fork_join_swf through the Conductor API as
// HierarchicalForkJoinSubworkflowRerunSpec does with its workers.
type hierSpec struct {
	ts              *conductorServer
	root, mid, leaf string
}

func (s *hierSpec) view(t *testing.T, id string) hierView {
	t.Helper()
	_, _, body := s.ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	var v hierView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("run %s: %s", id, body)
	}
	return v
}

// expect waits until run id has one of the shapes (status, then each task's
// "taskType:status"), and returns it.
func (s *hierSpec) expect(t *testing.T, id string, shapes ...string) hierView {
	t.Helper()
	var v hierView
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		v = s.view(t, id)
		for _, want := range shapes {
			if v.shape() == want {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %s, want one of %q", id, v.shape(), shapes)
		}
	}
}

// answer polls one task of type name and answers it with status.
func (s *hierSpec) answer(t *testing.T, name, worker, status string) (runID string) {
	t.Helper()
	_, _, body := s.ts.do(t, "GET", "/api/tasks/poll/batch/"+name+"?workerid="+worker+"&count=1&timeout=5000", "")
	var got []struct {
		TaskID             string `json:"taskId"`
		WorkflowInstanceID string `json:"workflowInstanceId"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
		t.Fatalf("poll %s: %s", name, body)
	}
	res := map[string]any{"workflowInstanceId": got[0].WorkflowInstanceID, "taskId": got[0].TaskID, "status": status, "workerId": worker}
	if status == "COMPLETED" {
		res["outputData"] = map[string]any{"op": "task2.done"}
	} else {
		res["reasonForIncompletion"] = "failed"
	}
	b, _ := json.Marshal(res)
	if st, _, body := s.ts.do(t, "POST", "/api/tasks", string(b)); st != 200 {
		t.Fatalf("update %s: %d %s", name, st, body)
	}
	return got[0].WorkflowInstanceID
}

const (
	hierRunning  = "RUNNING FORK:COMPLETED SUB_WORKFLOW:IN_PROGRESS integration_task_2:COMPLETED JOIN:IN_PROGRESS"
	hierFresh    = "RUNNING FORK:COMPLETED SUB_WORKFLOW:IN_PROGRESS integration_task_2:SCHEDULED JOIN:IN_PROGRESS"
	hierDone     = "COMPLETED FORK:COMPLETED SUB_WORKFLOW:COMPLETED integration_task_2:COMPLETED JOIN:COMPLETED"
	hierFailed   = "FAILED FORK:COMPLETED SUB_WORKFLOW:FAILED integration_task_2:COMPLETED JOIN:CANCELED"
	hierReopened = "RUNNING FORK:COMPLETED SUB_WORKFLOW:IN_PROGRESS integration_task_2:COMPLETED JOIN:CANCELED"
	leafFresh    = "RUNNING integration_task_1:SCHEDULED"
	leafDone     = "COMPLETED integration_task_1:COMPLETED integration_task_2:COMPLETED"
)

// newHierSpec is the spec's setup: integration_task_2 without retries, the
// root started; the root's and the mid level's integration_task_2
// complete; the leaf's integration_task_1 completes and its
// integration_task_2 fails: the three levels end FAILED.
func newHierSpec(t *testing.T) *hierSpec {
	t.Helper()
	s := &hierSpec{ts: newConductorServer(t, nil)}
	b, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	var defs []map[string]any
	if err := json.Unmarshal(b, &defs); err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if d["name"] == "integration_task_2" {
			d["retryCount"] = 0
		}
	}
	b, _ = json.Marshal(defs)
	if st, _, body := s.ts.do(t, "POST", "/api/metadata/taskdefs", string(b)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	registerConductorDef(t, s.ts, "hierarchical_fork_join_swf.json")
	registerConductorDef(t, s.ts, "simple_workflow_1_integration_test.json")
	st, _, id := s.ts.do(t, "POST", "/api/workflow", `{"name":"hierarchical_fork_join_swf","version":1,
	 "correlationId":"rerun_on_root_in_3level_wf","input":{"param1":"p1 value","param2":"p2 value",
	 "subwf":"hierarchical_fork_join_swf","nextSubwf":"integration_test_wf"}}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	s.root = id
	root := s.expect(t, s.root, hierFresh)
	s.mid = root.Tasks[1].SubWorkflowID
	s.expect(t, s.mid, hierFresh)
	// The root's and the mid level's integration_task_2, in any order.
	s.answer(t, "integration_task_2", "task2.integration.worker", "COMPLETED")
	s.answer(t, "integration_task_2", "task2.integration.worker", "COMPLETED")
	s.expect(t, s.root, hierRunning)
	mid := s.expect(t, s.mid, hierRunning)
	s.leaf = mid.Tasks[1].SubWorkflowID
	s.expect(t, s.leaf, leafFresh)
	s.answer(t, "integration_task_1", "task1.integration.worker", "COMPLETED")
	s.answer(t, "integration_task_2", "task2.integration.worker", "FAILED")
	s.expect(t, s.leaf, "FAILED integration_task_1:COMPLETED integration_task_2:FAILED")
	s.expect(t, s.mid, hierFailed, strings.Replace(hierFailed, "JOIN:CANCELED", "JOIN:IN_PROGRESS", 1))
	s.expect(t, s.root, hierFailed, strings.Replace(hierFailed, "JOIN:CANCELED", "JOIN:IN_PROGRESS", 1))
	return s
}

func (s *hierSpec) rerun(t *testing.T, id string) {
	t.Helper()
	if st, _, body := s.ts.do(t, "POST", "/api/workflow/"+id+"/rerun", `{"reRunFromWorkflowId":"`+id+`"}`); st != 200 || body != id {
		t.Fatalf("rerun %s: %d %s", id, st, body)
	}
}

// completed is the spec's assertWorkflowIsCompleted, with the JOIN the
// record the spec executed (joinID).
func (s *hierSpec) completed(t *testing.T, id, joinID string) {
	t.Helper()
	v := s.expect(t, id, hierDone)
	if v.Tasks[1].SubworkflowChanged {
		t.Errorf("run %s: subworkflowChanged stays set", id)
	}
	if v.join() != joinID {
		t.Errorf("run %s: JOIN %s, want the record %s", id, v.join(), joinID)
	}
}

// TestConductorHierarchicalForkJoinSubworkflowRerunSpec ports conductor-oss
// test-harness HierarchicalForkJoinSubworkflowRerunSpec through the
// Conductor API of wfrun serve: a rerun (no reRunFromTaskId) of the root,
// the mid level or the leaf of a 3-level hierarchy that FAILED in its leaf.
func TestConductorHierarchicalForkJoinSubworkflowRerunSpec(t *testing.T) {
	t.Run("rerun on the root-level", func(t *testing.T) {
		// The root gets a new execution with the same id and spawns a NEW
		// mid level, which spawns a NEW leaf.
		s := newHierSpec(t)
		s.rerun(t, s.root)
		root := s.expect(t, s.root, hierFresh)
		rootJoin, mid2 := root.join(), root.Tasks[1].SubWorkflowID
		if mid2 == s.mid || mid2 == "" {
			t.Fatalf("the rerun root's mid level %q, want a new one (old %s)", mid2, s.mid)
		}
		s.expect(t, mid2, hierFresh)
		s.answer(t, "integration_task_2", "task2.integration.worker", "COMPLETED")
		s.answer(t, "integration_task_2", "task2.integration.worker", "COMPLETED")
		s.expect(t, s.root, hierRunning)
		mid := s.expect(t, mid2, hierRunning)
		midJoin, leaf2 := mid.join(), mid.Tasks[1].SubWorkflowID
		if leaf2 == s.leaf || leaf2 == "" {
			t.Fatalf("the new mid level's leaf %q, want a new one (old %s)", leaf2, s.leaf)
		}
		s.expect(t, leaf2, leafFresh)
		s.answer(t, "integration_task_1", "task1.integration.worker", "COMPLETED")
		s.answer(t, "integration_task_2", "task2.integration.worker", "COMPLETED")
		s.expect(t, leaf2, leafDone)
		s.completed(t, mid2, midJoin)
		s.completed(t, s.root, rootJoin)
	})
	t.Run("rerun on the mid-level", func(t *testing.T) {
		// The mid level gets a new execution with the same id, spawns a NEW
		// leaf and re-opens the root.
		s := newHierSpec(t)
		s.rerun(t, s.mid)
		mid := s.expect(t, s.mid, hierFresh)
		root := s.expect(t, s.root, hierRunning)
		if root.Tasks[1].SubWorkflowID != s.mid {
			t.Fatalf("the root's SUB_WORKFLOW task has child %s, want %s", root.Tasks[1].SubWorkflowID, s.mid)
		}
		midJoin, rootJoin := mid.join(), root.join()
		if by := s.answer(t, "integration_task_2", "task2.integration.worker", "COMPLETED"); by != s.mid {
			t.Fatalf("integration_task_2 polled from %s, want the mid level's", by)
		}
		mid = s.expect(t, s.mid, hierRunning)
		leaf2 := mid.Tasks[1].SubWorkflowID
		if leaf2 == s.leaf || leaf2 == "" {
			t.Fatalf("the rerun mid level's leaf %q, want a new one (old %s)", leaf2, s.leaf)
		}
		s.expect(t, leaf2, leafFresh)
		s.answer(t, "integration_task_1", "task1.integration.worker", "COMPLETED")
		s.answer(t, "integration_task_2", "task1.integration.worker", "COMPLETED")
		s.expect(t, leaf2, leafDone)
		s.completed(t, s.mid, midJoin)
		s.completed(t, s.root, rootJoin)
	})
	t.Run("rerun on the leaf-level", func(t *testing.T) {
		// The leaf gets a new execution with the same id and re-opens its
		// parent and grandparent; their JOINs go back to IN_PROGRESS.
		s := newHierSpec(t)
		s.rerun(t, s.leaf)
		s.expect(t, s.leaf, leafFresh)
		mid := s.expect(t, s.mid, hierReopened, hierRunning)
		root := s.expect(t, s.root, hierReopened, hierRunning)
		if mid.Tasks[1].SubWorkflowID != s.leaf || root.Tasks[1].SubWorkflowID != s.mid {
			t.Fatalf("re-opened with children %s and %s, want %s and %s", mid.Tasks[1].SubWorkflowID, root.Tasks[1].SubWorkflowID, s.leaf, s.mid)
		}
		midJoin, rootJoin := s.expect(t, s.mid, hierRunning).join(), s.expect(t, s.root, hierRunning).join()
		s.answer(t, "integration_task_1", "task1.integration.worker", "COMPLETED")
		s.answer(t, "integration_task_2", "task2.integration.worker", "COMPLETED")
		s.expect(t, s.leaf, leafDone)
		s.completed(t, s.mid, midJoin)
		s.completed(t, s.root, rootJoin)
	})
}
