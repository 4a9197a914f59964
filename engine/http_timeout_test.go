package engine_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// An HTTP task's readTimeOut bounds each wait for data, not the call (as in
// Conductor): a server that sends a byte within every readTimeOut keeps the
// call going, and the task definition's timeoutSeconds or
// responseTimeoutSeconds is what stops it.
func TestHTTPTrickleStoppedByTaskTimeouts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for {
			if _, err := w.Write([]byte{'.'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond): // within readTimeOut (300ms)
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, taskDef, reason string
	}{
		{"timeoutSeconds", `{"timeoutSeconds":1,"timeoutPolicy":"TIME_OUT_WF"}`, "Task timed out after 1 seconds"},
		{"responseTimeoutSeconds", `{"responseTimeoutSeconds":1,"retryCount":0}`, "responseTimeout: 1 exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			start := time.Now()
			res := h.run(`{"name":"trickle","tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP",
			  "inputParameters":{"uri":"`+srv.URL+`","method":"GET","readTimeOut":300,"connectionTimeOut":300},
			  "taskDefinition":`+tc.taskDef+`}]}`, `{}`)
			el := time.Since(start)
			if res.Status == engine.StatusCompleted || el < time.Second || el > 10*time.Second {
				t.Fatalf("run %s after %v", res.Status, el)
			}
			wf := viewRun(t, h.e, res.RunID)
			if len(wf.Tasks) == 0 || wf.Tasks[0].Status != engine.TaskTimedOut || !strings.Contains(wf.Tasks[0].Reason, tc.reason) {
				t.Fatalf("run %s, tasks %+v", wf.Status, wf.Tasks)
			}
		})
	}
}
