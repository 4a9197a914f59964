package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// A stored run's head also keeps what its start request asked for: the
// queues its worker tasks go to (taskToDomain), its priority, its
// idempotency key, and that it is a test run. Someone who can write the
// run store points the next worker task, the one handed the secret, at a
// domain their own worker polls: the process that resumes the run refuses
// it, naming the run, and the task never runs. So for a priority and an
// idempotency key edited. An untouched run resumes. On memory, bolt and a
// real redis-server.
func TestStoredRunStartRequestIsAuthenticated(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			kit := newSealKit(t, mk())
			ctx := context.Background()
			earlier := func(s *storedRun) {
				if err := engine.SealHeadAsEarlierWfrun(s.doc, gjson.GetBytes(s.doc["workflowId"], "@this").Str, keyring(t, 1)); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct {
				name string
				edit func(s *storedRun)
			}{
				{"untouched", func(*storedRun) {}},
				// A head an earlier wfrun wrote: believed, and sealed so
				// at its next write.
				{"an earlier wfrun's", earlier},
				{"domain set, its head as an earlier wfrun's", func(s *storedRun) {
					delete(s.doc, "requestSealed")
					s.doc["taskToDomain"] = json.RawMessage(`{"capture":"attacker"}`)
				}},
				{"domain set", func(s *storedRun) { s.doc["taskToDomain"] = json.RawMessage(`{"capture":"attacker"}`) }},
				{"priority set", func(s *storedRun) { s.doc["priority"] = json.RawMessage(`99`) }},
				{"idempotency key set", func(s *storedRun) { s.doc["idempotencyKey"] = json.RawMessage(`"k-1"`) }},
			} {
				t.Run(c.name, func(t *testing.T) {
					id := "req-" + strings.ReplaceAll(c.name, " ", "-")
					kit.startWaiting(headDef, id)
					s := loadStoredRun(t, kit.rs, id)
					if string(s.doc["requestSealed"]) != "true" {
						t.Fatalf("stored head: requestSealed %s", s.doc["requestSealed"])
					}
					c.edit(s)
					s.restoreWith(t, kit.rs, id, s.log)
					kit.inputs()
					e := kit.engine()
					_, cerr := e.CompleteTask(ctx, id, "approve", "", json.RawMessage(`{}`))
					res, err := e.Resume(ctx, id)
					n := len(kit.inputs())
					if c.name == "untouched" || c.name == "an earlier wfrun's" {
						if cerr != nil || err != nil || res.Status != engine.StatusCompleted || n != 1 {
							t.Fatalf("%s run: %v %v %+v, worker called %d times", c.name, cerr, err, res, n)
						}
						raw, _, err := kit.rs.Load(ctx, id)
						if err != nil || !strings.Contains(string(raw), `"requestSealed":true`) {
							t.Fatalf("the resumed run's head: %v %s", err, raw)
						}
						return
					}
					if !errors.Is(cerr, engine.ErrHeadNotAuthentic) || !errors.Is(err, engine.ErrHeadNotAuthentic) ||
						!strings.Contains(err.Error(), id) || strings.Contains(err.Error(), deployKey) || n != 0 {
						t.Fatalf("edited head (%s): completion %v, resume %v %+v, worker called %d times", c.name, cerr, err, res, n)
					}
				})
			}
		})
	}
}

// A test run's head says it is one. Someone who can write the run store
// removes that, and the mocks part with it: resumed as a run of its own,
// its mocked HTTP task would call the real server and its mocked
// UPDATE_SECRET rotate the real secret. The resume is refused, naming the
// run, and nothing is called.
func TestTestRunMarkIsAuthenticated(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"real":true}`))
	}))
	defer srv.Close()
	g := newRig(t, "bolt", 5)
	ctx := context.Background()
	var offered atomic.Int32
	const id = "test-unmarked"
	startInterrupted(t, resumeEngine(t, g, &offered), id, srv.URL)
	doc, _, err := g.runs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if string(d["test"]) != "true" {
		t.Fatalf("stored head: test %s", d["test"])
	}
	var taskDocs []json.RawMessage
	if err := json.Unmarshal(d["tasks"], &taskDocs); err != nil {
		t.Fatal(err)
	}
	def := d["workflowDefinition"]
	input, output, vars := d["input"], d["output"], d["variables"]
	var log []json.RawMessage
	if err := json.Unmarshal(d["runLog"], &log); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"test", "testMocks", "tasks", "workflowDefinition", "input", "output", "variables", "taskDefs", "runLog"} {
		delete(d, k)
	}
	head, _ := json.Marshal(d)
	var hash string
	if err := json.Unmarshal(d["definitionHash"], &hash); err != nil {
		t.Fatal(err)
	}
	ch := &runstore.Change{Summary: runstore.Summary{WorkflowType: "mockresume", Version: 1, Status: engine.StatusRunning},
		Head: head, Input: input, Output: output, Variables: vars, DefinitionHash: hash, Definition: def}
	for _, td := range taskDocs {
		var seq struct {
			Seq int `json:"seq"`
		}
		if err := json.Unmarshal(td, &seq); err != nil {
			t.Fatal(err)
		}
		ch.Tasks = append(ch.Tasks, runstore.Task{Seq: seq.Seq, Doc: td})
	}
	for i, l := range log {
		ch.Log = append(ch.Log, runstore.LogEntry{Pos: i, Doc: l})
	}
	if err := g.runs.Restore(ctx, id, ch); err != nil {
		t.Fatal(err)
	}
	e2 := resumeEngine(t, g, &offered)
	_, cerr := e2.CompleteTask(ctx, id, "gate", engine.TaskCompleted, json.RawMessage(`{"by":"ext"}`))
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := e2.Resume(rctx, id)
	if hits.Load() != 0 {
		t.Fatal("the test run stripped of its mark called the real server")
	}
	if !errors.Is(cerr, engine.ErrHeadNotAuthentic) || !errors.Is(err, engine.ErrHeadNotAuthentic) || !strings.Contains(err.Error(), id) {
		t.Fatalf("a test run stripped of its mark: completion %v, resume %v %+v", cerr, err, res)
	}
}

// The archive masks for good a start request's member that holds a value
// the run registered (headview.go): the archived head's seal covers the
// member as archived, so the archived run restarts, and its archive keeps
// the value masked.
func TestArchivedStartRequestMaskedStillVerifies(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			kit := newSealKit(t, mk())
			ctx := context.Background()
			e := kit.engine()
			d, err := e.Parse([]byte(`{"name":"reqmask","tasks":[
  {"name":"capture","taskReferenceName":"use","inputParameters":{"k":"${workflow.secrets.public_token}"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			const id = "req-masked"
			res, err := e.Start(ctx, d, nil, engine.WithRunID(id), engine.WithIdempotencyKey("key-public-token-5521"),
				engine.WithTaskToDomain(map[string]string{"capture": "public-token-5521"}),
				engine.AsPrincipal(engine.Principal{Name: "ci", Scopes: []string{"secrets:get:public_token"}}))
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("start: %v %+v", err, res)
			}
			raw, archived, err := kit.rs.Load(ctx, id)
			if err != nil || !archived || strings.Contains(string(raw), "public-token-5521") ||
				gjson.GetBytes(raw, "taskToDomain.capture").Str != "***" || gjson.GetBytes(raw, "idempotencyKey").Str != "key-***" {
				t.Fatalf("archived: %v %v %s", archived, err, raw)
			}
			if res, err := kit.engine().Restart(ctx, id, true); err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("restart of the archived run: %v %+v", err, res)
			}
		})
	}
}
