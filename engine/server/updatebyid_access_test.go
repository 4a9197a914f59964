package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/store/seal"
)

// workerKeyYAML is scopesYAML with a worker key that may poll (and
// answer) every task type and nothing else.
var workerKeyYAML = strings.Replace(scopesYAML, "anonymousScopes:", `  - keyId: worker
    keySecret: worker-secret-0123456789
    scopes: ["tasks:poll:*"]
anonymousScopes:`, 1)

// newScopedServerRing is newScopedServerYAML(workerKeyYAML) over runs
// with keyring ring, so that two of them share a run store as two serve
// processes do, with the worker key's token too.
func newScopedServerRing(t *testing.T, runs runstore.Store, ring *seal.Keyring) *scopedServer {
	t.Helper()
	cfg, err := server.ParseAuthConfig([]byte(workerKeyYAML), "test")
	if err != nil {
		t.Fatal(err)
	}
	ts := &scopedServer{conductorServer: newConductorServerWith(t, runs, []engine.Option{engine.WithKeyring(ring)}, server.WithAuth(cfg)),
		tokens: map[string]string{"anonymous": ""}}
	for _, k := range []string{"admin", "alice", "bob", "rita", "worker"} {
		_, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"`+k+`","keySecret":"`+k+`-secret-0123456789"}`)
		var tok struct{ Token string }
		if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
			t.Fatalf("token of %s: %s", k, body)
		}
		ts.tokens[k] = tok.Token
	}
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	return ts
}

// TestUpdateByIDOfWaitTaskNeedsManage: a WAIT task, which no worker polls,
// is completed by task id (POST /api/tasks) only by who may complete it by
// ref (POST /api/tasks/{workflowId}/{ref}/{status}): workflows:manage of
// its workflow, or having started the run; a poll scope is not enough.
// A key that may not read the run is told the task is unknown (404), one
// that reads but may not manage it is refused (403); neither changes the
// run. The same holds when the update reaches a serve process that does
// not execute the run (another process sharing the run store).
func TestUpdateByIDOfWaitTaskNeedsManage(t *testing.T) {
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	runs := runstore.NewMemory()
	executing := newScopedServerRing(t, runs, ring)
	other := newScopedServerRing(t, runs, ring)
	for _, tc := range []struct {
		name    string
		through *scopedServer
	}{
		{"the executing process", executing},
		{"another process", other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// alice (workflows:start:guarded, tasks:poll:*) starts it: she owns it.
			st, _, id := executing.as(t, "alice", "POST", "/api/workflow/guarded", `{}`)
			if st != 200 {
				t.Fatalf("start: %d %s", st, id)
			}
			holdID := waitInProgress(t, executing, id, "hold")
			update := func(who string) (int, string) {
				st, _, body := tc.through.as(t, who, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+holdID+`","status":"COMPLETED","outputData":{"approved":"`+who+`"}}`)
				return st, body
			}
			before := executing.snapshot(t, id)
			for _, c := range []struct {
				who  string
				want int
			}{
				{"worker", http.StatusNotFound},    // tasks:poll:* only: may not read the run
				{"rita", http.StatusForbidden},     // may read, not manage
				{"anonymous", http.StatusNotFound}, // nothing
			} {
				if st, body := update(c.who); st != c.want {
					t.Errorf("%s completes the WAIT task by id: %d %s, want %d", c.who, st, body, c.want)
				}
			}
			time.Sleep(50 * time.Millisecond)
			if after := executing.snapshot(t, id); after != before {
				t.Fatalf("a refused update changed the run:\n%s\n%s", before, after)
			}
			// The run's owner may.
			if st, body := update("alice"); st != 200 {
				t.Fatalf("the run's owner completes the WAIT task by id: %d %s", st, body)
			}
			waitInProgress(t, executing, id, "later")
			if _, _, view := executing.as(t, "admin", "GET", "/api/workflow/"+id, ""); !strings.Contains(view, `"approved":"alice"`) {
				t.Errorf("the owner's completion is not the task's output: %s", view)
			}
		})
	}
}

// waitInProgress waits for task ref of run id to be IN_PROGRESS and
// returns its task id.
func waitInProgress(t *testing.T, ts *scopedServer, id, ref string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, b := ts.as(t, "admin", "GET", "/api/workflow/"+id, "")
		var d struct {
			Tasks []struct {
				TaskID, ReferenceTaskName, Status string
			}
		}
		_ = json.Unmarshal([]byte(b), &d)
		for _, tk := range d.Tasks {
			if tk.ReferenceTaskName == ref && tk.Status == "IN_PROGRESS" {
				return tk.TaskID
			}
		}
	}
	t.Fatalf("%s of run %s never IN_PROGRESS", ref, id)
	return ""
}
