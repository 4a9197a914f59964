package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestDynamicTaskRecord: the record of the task a DYNAMIC task maps, as
// DynamicTaskMapper builds it: taskType and taskDefName the name it
// resolves, the DYNAMIC task's definition (here new TaskDef("dyn"), made
// when the run started: retryCount 0, responseTimeoutSeconds 0) as its
// taskDefinition, responseTimeoutSeconds that definition's, and no rate
// limit copied (TaskModel's 0 and 0, where SimpleTaskMapper would copy a
// definition's 0 and 1). The worker that polls it sees the same.
func TestDynamicTaskRecord(t *testing.T) {
	s := newE2TServer(t)
	def := `{"name":"dyn_record","schemaVersion":2,"ownerEmail":"a@b.c","tasks":[
	 {"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{"tn":"some_worker"}}]}`
	id := s.registerStart(t, def, "dyn_record")
	show := func(m map[string]any) string {
		d, _ := m["taskDefinition"].(map[string]any)
		return fmt.Sprint(m["taskType"], " ", m["taskDefName"], " ", m["responseTimeoutSeconds"], " ",
			m["rateLimitPerFrequency"], " ", m["rateLimitFrequencyInSeconds"], " def ", d["name"], " ", d["retryCount"], " ", d["responseTimeoutSeconds"])
	}
	const want = "some_worker some_worker 0 0 0 def dyn 0 0"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, _, body := s.do(t, "GET", "/api/workflow/"+id, "")
		var wf struct {
			Tasks []map[string]any `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(body), &wf); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if len(wf.Tasks) == 1 {
			if got := show(wf.Tasks[0]); got != want {
				t.Errorf("record %s, want %s", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no task: %s", body)
		}
	}
	if got := show(s.rawPoll(t, "some_worker")); got != want {
		t.Errorf("polled %s, want %s", got, want)
	}
}
