package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The worker id a remote worker gives is the worker's text: the task
// record keeps it masked whole with the run's values, then cut — a value
// across the cut leaves no piece — and masked again with a value the run
// registers after the poll.
func TestRemoteWorkerIDMaskedThenCut(t *testing.T) {
	const early, late = "tok-early-5f4e3d2c1b", "tok-late-0a9b8c7d6e"
	tests := []struct{ name, id string }{
		{"value across the cut", strings.Repeat("w", 245) + early + "-rest"},
		{"short id", "host-" + early + "/" + late},
		{"long id, later value", late + strings.Repeat("w", 300) + early},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rs := runstore.NewMemory()
			e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()),
				engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
					if err := rt.Polled(ctx, tt.id); err != nil {
						return tasks.Result{Status: tasks.Failed, Reason: err.Error()}
					}
					return tasks.Result{Status: tasks.Completed, Output: []byte(`{}`)}
				}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(`{"name":"wid","tasks":[
			  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.early}","expression":"({_secrets: {t: $.v}})"}},
			  {"name":"w","taskReferenceName":"w"},
			  {"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.late}","expression":"({_secrets: {t: $.v}})"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			in, _ := json.Marshal(map[string]string{"early": early, "late": late})
			res, err := e.Start(ctx, d, in)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("%v %+v", err, res)
			}
			doc, _, err := rs.Load(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			var wid string
			for _, task := range gjson.GetBytes(doc, "tasks").Array() {
				if task.Get("referenceTaskName").String() == "w" {
					wid = task.Get("workerId").String()
				}
			}
			if wid == "" || len(wid) > 256 {
				t.Fatalf("worker id %q (%d bytes)", wid, len(wid))
			}
			for _, v := range []string{early, late} {
				for n := 4; n <= len(v); n++ {
					if strings.Contains(wid, v[:n]) {
						t.Fatalf("worker id %q holds %q of a value", wid, v[:n])
					}
				}
			}
			if !strings.Contains(wid, "***") {
				t.Fatalf("worker id %q", wid)
			}
		})
	}
}
