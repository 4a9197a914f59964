package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// wholeOnly is a run store that reads runs whole only (no TaskReader):
// StoredAttempt reads the run whole.
type wholeOnly struct{ runstore.Store }

// forgedArchive is a run store whose archived runs read as edit makes
// them: what someone who can write the run store put there.
type forgedArchive struct {
	runstore.Store
	edit func(doc []byte) []byte
}

func (s forgedArchive) Load(ctx context.Context, id string) ([]byte, bool, error) {
	doc, archived, err := s.Store.Load(ctx, id)
	if err == nil && archived {
		doc = s.edit(doc)
	}
	return doc, archived, err
}

// StoredAttempt tells a server whether an attempt still waits for a
// worker, and whether an answer to it may be applied. Someone who can
// write the run store marks a waiting approval COMPLETED, or an ended
// (archived) run's task open again and the run RUNNING: the look at the
// attempt — by its record alone, by the run read whole, or of an archived
// run — answers an error naming the run, never the edited state, and no
// secret value. Untouched, each answers what was written.
func TestStoredAttemptIsAuthenticated(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{"by its record", "read whole"} {
		t.Run(path, func(t *testing.T) {
			mem := runstore.NewMemory()
			var rs runstore.Store = mem
			if path == "read whole" {
				rs = wholeOnly{mem}
			}
			kit := newSealKit(t, rs)
			id := "attempt-" + strings.ReplaceAll(path, " ", "-")
			kit.startWaiting(headDef, id)
			e := kit.engine()
			st, err := e.StoredState(ctx, id)
			if err != nil || len(st.Tasks) == 0 {
				t.Fatalf("stored state: %v %+v", err, st)
			}
			taskID := st.Tasks[0].TaskID
			at, err := e.StoredAttempt(ctx, id, taskID)
			if err != nil || !at.Found || at.RunStatus != engine.StatusRunning || !at.Task.Open() {
				t.Fatalf("untouched: %v %+v", err, at)
			}
			s := loadStoredRun(t, mem, id)
			forged := strings.Replace(string(s.doc["tasks"]), `"status":"IN_PROGRESS"`, `"status":"COMPLETED"`, 1)
			if forged == string(s.doc["tasks"]) {
				t.Fatalf("no open record to forge: %s", s.doc["tasks"])
			}
			s.doc["tasks"] = json.RawMessage(forged)
			s.restoreWith(t, mem, id, s.log)
			at, err = kit.engine().StoredAttempt(ctx, id, taskID)
			if !errors.Is(err, engine.ErrRecordNotAuthentic) || !strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "public-token-5521") {
				t.Fatalf("forged record: %v %+v", err, at)
			}
		})
	}
	t.Run("archived", func(t *testing.T) {
		mem := runstore.NewMemory()
		kit := newSealKit(t, mem)
		e := kit.engine()
		d, err := e.Parse([]byte(`{"name":"attempted","tasks":[
  {"name":"capture","taskReferenceName":"use","inputParameters":{"k":"${workflow.secrets.public_token}"}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		const id = "attempt-archived"
		res, err := e.Start(ctx, d, nil, engine.WithRunID(id),
			engine.AsPrincipal(engine.Principal{Name: "ci", Scopes: []string{"secrets:get:public_token"}}))
		if err != nil || res.Status != engine.StatusCompleted {
			t.Fatalf("start: %v %+v", err, res)
		}
		raw, archived, err := mem.Load(ctx, id)
		if err != nil || !archived {
			t.Fatalf("archived: %v %v", archived, err)
		}
		taskID := gjson.GetBytes(raw, "tasks.0.taskId").Str
		reopen := func(doc []byte) []byte {
			s := strings.Replace(string(doc), `"status":"COMPLETED"`, `"status":"RUNNING"`, 1) // the run's
			return []byte(strings.ReplaceAll(s, `"status":"COMPLETED"`, `"status":"SCHEDULED"`))
		}
		for _, c := range []struct {
			name string
			edit func([]byte) []byte
		}{
			{"untouched", func(b []byte) []byte { return b }},
			{"reopened", reopen},
		} {
			t.Run(c.name, func(t *testing.T) {
				kit.rs = forgedArchive{Store: mem, edit: c.edit}
				at, err := kit.engine().StoredAttempt(ctx, id, taskID)
				if c.name == "untouched" {
					if err != nil || !at.Found || at.RunStatus != engine.StatusCompleted || at.Task.Open() {
						t.Fatalf("untouched archived run: %v %+v", err, at)
					}
					return
				}
				if !errors.Is(err, engine.ErrRecordNotAuthentic) || !strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "public-token-5521") {
					t.Fatalf("reopened archived run: %v %+v", err, at)
				}
			})
		}
	})
}
