package server

import (
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/masking"
)

// TestRecordsOfOlderRunsHaveUpdateTime: a run stored before runs kept
// updateTime has none in its task records and 0 for the run (as
// engine.Show gives such a run): its Conductor records derive it, the
// latest time the record keeps, so a client sorting by updateTime sees
// the record's last change instead of 0. A record that keeps one shows it.
func TestRecordsOfOlderRunsHaveUpdateTime(t *testing.T) {
	s := &Server{masker: masking.New(masking.WithLogger(nil))}
	view := `{"workflowId":"w1","workflowType":"old","version":1,"status":"COMPLETED","createTime":1000,"updateTime":0,"endTime":5000,
	 "input":{},"output":{},"tasks":[
	  {"taskId":"t1","referenceTaskName":"a","taskType":"SET_VARIABLE","status":"COMPLETED","scheduledTime":1100,"startTime":1200,"endTime":1300},
	  {"taskId":"t2","referenceTaskName":"b","taskType":"WAIT","status":"COMPLETED","scheduledTime":1400,"startTime":1500,"endTime":4000},
	  {"taskId":"t3","referenceTaskName":"c","taskType":"WAIT","status":"IN_PROGRESS","scheduledTime":1600,"startTime":1700,"endTime":0},
	  {"taskId":"t4","referenceTaskName":"d","taskType":"WAIT","status":"COMPLETED","scheduledTime":1600,"startTime":1700,"endTime":1800,"updateTime":2500}]}`
	doc, err := s.executionDoc([]byte(view))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		UpdateTime int64 `json:"updateTime"`
		Tasks      []struct {
			TaskID     string `json:"taskId"`
			UpdateTime int64  `json:"updateTime"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.UpdateTime != 5000 {
		t.Errorf("the run's updateTime %d, want 5000 (its end)", got.UpdateTime)
	}
	want := map[string]int64{"t1": 1300, "t2": 4000, "t3": 1700, "t4": 2500}
	for _, tk := range got.Tasks {
		if tk.UpdateTime != want[tk.TaskID] {
			t.Errorf("task %s: updateTime %d, want %d", tk.TaskID, tk.UpdateTime, want[tk.TaskID])
		}
	}
	// A running run: the latest of its tasks' changes.
	doc, err = s.executionDoc([]byte(`{"workflowId":"w2","workflowType":"old","version":1,"status":"RUNNING","createTime":1000,
	 "tasks":[{"taskId":"t1","referenceTaskName":"a","taskType":"WAIT","status":"IN_PROGRESS","scheduledTime":1100,"startTime":1200}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ = json.Marshal(doc); json.Unmarshal(b, &got) != nil || got.UpdateTime != 1200 {
		t.Errorf("a running run's updateTime %d, want 1200 (its task's start)", got.UpdateTime)
	}
}
