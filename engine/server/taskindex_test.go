package server_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
)

// sharedRing is the keyring of the serve processes a test runs on one run
// store: the processes of one deployment share one.
func sharedRing(t *testing.T) []engine.Option {
	t.Helper()
	ring, err := seal.NewKeyring([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	return []engine.Option{engine.WithKeyring(ring)}
}

// TestGetTaskReadsItsRunOnly: GET /api/tasks/{taskId} of a task that is
// not queued reads the task's run only, not every run, when the server
// executed the run or found the task before; a server that has not (here
// a second one on the same run store) reads the runs once, then its run
// only. Unknown ids are 404 (every run read), and the answer is masked.
func TestGetTaskReadsItsRunOnly(t *testing.T) {
	const value = "task-index-SECRET-value-9e02"
	runs := &loadCounter{Store: runstore.NewMemory()}
	ring := sharedRing(t)
	ts := newConductorServerWith(t, runs, ring)
	putSecret(t, ts.store, "api_key", value)
	def := `{"name":"indexed","version":1,"schemaVersion":2,"tasks":[
	  {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"token":"${workflow.secrets.api_key}"}}],
	  "outputParameters":{"t":"${workflow.variables.token}"}}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	const n = 12
	var first string
	for i := 0; i < n; i++ {
		id := startByName(t, ts, "indexed")
		d := ts.waitRun(t, id, "completed", func(d runDoc) bool { return d.Status == "COMPLETED" })
		if i == 0 {
			first = d.Tasks[0].TaskID // the oldest run: a scan reads it last
		}
	}
	get := func(ts *conductorServer, taskID string) (int, string, int64) {
		t.Helper()
		before := runs.loads.Load()
		st, _, body := ts.do(t, "GET", "/api/tasks/"+taskID, "")
		if strings.Contains(body, value) {
			t.Errorf("GET /api/tasks/%s holds the secret value", taskID)
		}
		return st, body, runs.loads.Load() - before
	}
	if st, body, loads := get(ts, first); st != 200 || !strings.Contains(body, `"referenceTaskName":"setv"`) || loads > 2 {
		t.Errorf("task of a run this server executed: %d %s, %d run reads", st, body, loads)
	}
	if st, _, loads := get(ts, "no-such-task"); st != 404 || loads < n {
		t.Errorf("unknown task: %d, %d run reads (want every run read)", st, loads)
	}
	other := newConductorServerWith(t, runs, ring)
	// The oldest run is read among the last (runs of one millisecond may
	// come in any order).
	if st, _, loads := get(other, first); st != 200 || loads < n/2 {
		t.Errorf("another server, first time: %d, %d run reads", st, loads)
	}
	if st, _, loads := get(other, first); st != 200 || loads > 2 {
		t.Errorf("another server, again: %d, %d run reads", st, loads)
	}
}

// TestTaskSearchByIDReadsItsRunOnly: a task search whose query ANDs
// taskId = x (or taskId IN (...)) at its top reads the task's run only
// when the server knows it; otherwise it reads every run, and finds the
// same task.
func TestTaskSearchByIDReadsItsRunOnly(t *testing.T) {
	runs := &loadCounter{Store: runstore.NewMemory()}
	ring := sharedRing(t)
	ts := newConductorServerWith(t, runs, ring)
	def := `{"name":"indexed2","version":1,"schemaVersion":2,"tasks":[{"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	const n = 8
	var ids []string
	for i := 0; i < n; i++ {
		id := startByName(t, ts, "indexed2")
		ids = append(ids, ts.waitRun(t, id, "completed", func(d runDoc) bool { return d.Status == "COMPLETED" }).Tasks[0].TaskID)
	}
	other := newConductorServerWith(t, runs, ring)
	for _, c := range []struct {
		name     string
		ts       *conductorServer
		query    string
		hits     int
		maxLoads int64
	}{
		{"known id", ts, "taskId = '" + ids[0] + "' AND status = COMPLETED", 1, 1},
		{"known ids", ts, "taskId IN (" + ids[0] + "," + ids[3] + ")", 2, 2},
		{"unknown id", ts, "taskId = 'nope'", 0, n},
		{"id OR'ed", ts, "taskId = '" + ids[0] + "' OR taskId = '" + ids[1] + "'", 2, n},
		{"not known here yet", other, "taskId = '" + ids[2] + "'", 1, n},
		{"known here now", other, "taskId = '" + ids[2] + "'", 1, 1},
	} {
		before := runs.loads.Load()
		st, _, body := c.ts.do(t, "GET", "/api/tasks/search?query="+url.QueryEscape(c.query), "")
		loads := runs.loads.Load() - before
		var got struct {
			TotalHits int `json:"totalHits"`
		}
		if st != 200 || json.Unmarshal([]byte(body), &got) != nil || got.TotalHits != c.hits || loads > c.maxLoads {
			t.Errorf("%s: %d %s, %d run reads (at most %d)", c.name, st, body, loads, c.maxLoads)
		}
	}
}
