package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store/seal"
)

// wholeReadsOf is a Redis run store that counts its whole-run reads
// (Load) of one run while counting is on.
type wholeReadsOf struct {
	*runstore.Redis
	id       atomic.Pointer[string]
	counting atomic.Bool
	loads    atomic.Int64
}

func (w *wholeReadsOf) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if p := w.id.Load(); w.counting.Load() && p != nil && *p == id {
		w.loads.Add(1)
	}
	return w.Redis.Load(ctx, id)
}

// TestUpdateThroughAnotherProcessReadsTheAttemptAlone: a worker's answer
// to a task of a long run, sent to a serve process that does not execute
// the run (as behind a load balancer), is checked, stored and waited for
// through the attempt's record: that process reads the run whole not
// once, so an answer costs the same at the run's 3rd task or its 300th.
func TestUpdateThroughAnotherProcessReadsTheAttemptAlone(t *testing.T) {
	url := "redis://" + redistest.Start(t) + "/0"
	defs := t.TempDir()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	count := &wholeReadsOf{}
	a := redisServe(t, url, defs, ring, nil)
	b := redisServe(t, url, defs, ring, func(rs *runstore.Redis) runstore.Store { count.Redis = rs; return count })
	// 150 INLINE tasks, a worker's task, and two HUMAN tasks that keep
	// the run RUNNING once the worker's task ended.
	var tasksJSON []string
	for i := range 150 {
		tasksJSON = append(tasksJSON, fmt.Sprintf(`{"name":"i%d","taskReferenceName":"i%d","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"%d"}}`, i, i, i))
	}
	tasksJSON = append(tasksJSON, `{"name":"slow_task","taskReferenceName":"work","type":"SIMPLE"}`,
		`{"name":"hold","taskReferenceName":"hold","type":"HUMAN"}`, `{"name":"hold2","taskReferenceName":"hold2","type":"HUMAN"}`)
	def := `{"name":"long_then_simple","version":1,"schemaVersion":2,"tasks":[` + strings.Join(tasksJSON, ",") + `]}`
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := a.do(t, "POST", "/api/workflow/long_then_simple", `{}`)
	count.id.Store(&id)
	var got []map[string]any
	for deadline := time.Now().Add(20 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		_, _, body := a.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=1000", "")
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("poll on A: %s", body)
		}
	}
	if len(got) != 1 {
		t.Fatal("the worker's task was never handed out")
	}
	upd, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED",
		"outputData": map[string]any{"r": "answered via B"}})
	count.counting.Store(true)
	st, _, body := b.do(t, "POST", "/api/tasks", string(upd))
	count.counting.Store(false)
	if st != 200 {
		t.Fatalf("update through B: %d %s", st, body)
	}
	if n := count.loads.Load(); n != 0 {
		t.Errorf("B read the run whole %d times to take one answer", n)
	}
	// Taken, and the run went on to the HUMAN task.
	view := waitView(t, b, id, `"referenceTaskName":"hold"`)
	if !strings.Contains(view, "answered via B") {
		t.Errorf("run after the answer through B: %s", view)
	}
	// The HUMAN task answered by reference through B (Conductor's update
	// by reference name): found through the run's reference index, not
	// the run read whole; the answer is the task's id.
	humanID := ""
	for deadline := time.Now().Add(20 * time.Second); humanID == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, v := b.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
		var wf struct {
			Tasks []struct{ ReferenceTaskName, TaskID, Status string }
		}
		_ = json.Unmarshal([]byte(v), &wf)
		for _, tk := range wf.Tasks {
			if tk.ReferenceTaskName == "hold" && tk.Status == "IN_PROGRESS" {
				humanID = tk.TaskID
			}
		}
	}
	if humanID == "" {
		t.Fatal("the HUMAN task never waited")
	}
	count.loads.Store(0)
	count.counting.Store(true)
	st, _, body = b.do(t, "POST", "/api/tasks/"+id+"/hold/COMPLETED", `{"by":"ref via B"}`)
	count.counting.Store(false)
	if st != 200 || body != humanID {
		t.Fatalf("update by reference through B: %d %s, want 200 %s", st, body, humanID)
	}
	if n := count.loads.Load(); n != 0 {
		t.Errorf("B read the run whole %d times to take one answer by reference", n)
	}
	// Taken, and the run went on to the next HUMAN task (an ended run
	// is archived, and an archived run is read whole).
	if view := waitView(t, b, id, `"referenceTaskName":"hold2"`); !strings.Contains(view, "ref via B") {
		t.Errorf("run after the answer by reference through B lacks its output")
	}
}
