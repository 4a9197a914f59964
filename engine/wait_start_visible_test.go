package engine_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WaitTaskMapper maps a WAIT IN_PROGRESS with its callbackAfterSeconds set
// (setCallbackAfter), in one write: no reader sees the WAIT waiting without
// them. A reader of this engine that looks the moment the WAIT's record goes
// IN_PROGRESS (Show writes the run's unwritten records first, visible.go)
// sees its callbackAfterSeconds: the duration's seconds, or
// Integer.MAX_VALUE for a WAIT with no time.
func TestWaitShownInProgressWithItsCallback(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"duration":"30 seconds"}`, "30"},
		{`{}`, "2147483647"},
	} {
		t.Run(c.want, func(t *testing.T) {
			var e *engine.Engine
			var mu sync.Mutex
			var seen []string
			e = harnessEngine(t, nil, engine.WithEvents(func(ev engine.Event) {
				if ev.Kind != engine.EventTask || ev.TaskRef != "wait0" || ev.Status != engine.TaskInProgress {
					return
				}
				b, err := e.Show(context.Background(), ev.RunID)
				if err != nil {
					t.Error(err)
					return
				}
				var v struct {
					Tasks []struct {
						Status   string  `json:"status"`
						Callback float64 `json:"callbackAfterSeconds"`
					} `json:"tasks"`
				}
				_ = json.Unmarshal(b, &v)
				mu.Lock()
				for _, tk := range v.Tasks {
					seen = append(seen, tk.Status+" "+strconv.FormatFloat(tk.Callback, 'f', -1, 64))
				}
				mu.Unlock()
			}))
			d, err := e.Parse([]byte(`{"name":"w","schemaVersion":2,"tasks":[{"name":"wait","taskReferenceName":"wait0","type":"WAIT","inputParameters":` + c.in + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			id := "wait-shown-" + c.want
			done := startAsync(t, e, d, id)
			waitCallbacks(t, e, id, "IN_PROGRESS "+c.want)
			if _, err := e.CompleteTask(context.Background(), id, "wait0", engine.TaskCompleted, nil); err != nil {
				t.Fatal(err)
			}
			if res := <-done; res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("%+v", res)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || seen[0] != "IN_PROGRESS "+c.want {
				t.Fatalf("shown as it started: %v, want [IN_PROGRESS %s]", seen, c.want)
			}
		})
	}
}
