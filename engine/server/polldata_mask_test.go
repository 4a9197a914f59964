package server_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestPollDataWorkerIDMasked: a poll's workerid is the worker's own text
// and may quote a value the server knows as a secret: poll data keeps it
// masked whole and cut (as task records keep worker ids), and shows it
// masked again, so a value the server learns after the poll is masked
// too.
func TestPollDataWorkerIDMasked(t *testing.T) {
	ts := newConductorServer(t, nil)
	const early, late = "pd-early-value-4711", "pd-late-value-0815"
	if st, _, body := ts.do(t, "PUT", "/api/secrets/pd_early", early); st != 200 {
		t.Fatalf("PUT secret: %d %s", st, body)
	}
	pollData := func(taskType string) string {
		t.Helper()
		st, _, body := ts.do(t, "GET", "/api/tasks/queue/polldata?taskType="+taskType, "")
		if st != 200 {
			t.Fatalf("polldata: %d %s", st, body)
		}
		var got []struct {
			WorkerID string `json:"workerId"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
			t.Fatalf("polldata %s: %v", body, err)
		}
		return got[0].WorkerID
	}
	long := strings.Repeat("x", 250)
	for _, tc := range []struct{ taskType, worker string }{
		{"pd_mask_a", "host-1/" + early + "/" + late},
		{"pd_mask_b", long + early + long}, // the value across the cut
	} {
		if st, _, body := ts.do(t, "GET", "/api/tasks/poll/"+tc.taskType+"?workerid="+url.QueryEscape(tc.worker), ""); st != 204 {
			t.Fatalf("poll: %d %s", st, body)
		}
	}
	if st, _, body := ts.do(t, "PUT", "/api/secrets/pd_late", late); st != 200 {
		t.Fatalf("PUT secret: %d %s", st, body)
	}
	if got := pollData("pd_mask_a"); got != "host-1/***/***" {
		t.Errorf("poll data workerId %q, want host-1/***/***", got)
	}
	if got, want := pollData("pd_mask_b"), long+"***"+long[:3]+"…"; got != want {
		t.Errorf("poll data workerId %q: want it masked, then cut to 256 bytes: %q", got, want)
	}
	// update-v2 polls for the worker's next task with the update's
	// workerId: kept the same way.
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow", `{"name":"one_simple","input":{"k":"v"}}`)
	_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=5000&workerid=plain", "")
	var polled []map[string]any
	if err := json.Unmarshal([]byte(body), &polled); err != nil || len(polled) != 1 {
		t.Fatalf("poll: %s", body)
	}
	res, _ := json.Marshal(map[string]any{"taskId": polled[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED",
		"workerId": long + early + long})
	if st, _, body := ts.do(t, "POST", "/api/tasks/update-v2", string(res)); st != 204 {
		t.Fatalf("update-v2: %d %s", st, body)
	}
	if got, want := pollData("slow_task"), long+"***"+long[:3]+"…"; got != want {
		t.Errorf("poll data workerId after update-v2 %q: want %q", got, want)
	}
}
