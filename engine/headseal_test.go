package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// headDef waits for an approval, then hands its worker the one secret it
// reads; headAttackDef is what someone who can write the run store would
// put in its place: the same run reading another secret.
const (
	headDef = `{"name":"headseal","tasks":[
  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
  {"name":"capture","taskReferenceName":"use","inputParameters":{"k":"${workflow.secrets.public_token}"}}]}`
	headAttackDef = `{"name":"headseal","tasks":[{"name":"approve","taskReferenceName":"approve","type":"HUMAN"},{"name":"capture","taskReferenceName":"use","inputParameters":{"k":"${workflow.secrets.deploy_key}"}}]}`
	deployKey     = "prod-deploy-key-9f3a7c"
)

// A stored run's head says what the run may read: its definition (by
// hash), its principal and scopes. Someone who can write the run store
// (a Redis several hosts share) edits them: the next process to resume the
// run refuses it, and the secret the edit asks for is never read. Each
// edit on memory, bolt and a real redis-server; an untouched run resumes;
// a head without a seal resumes only on WithUnsealedHeads.
func TestStoredRunHeadIsAuthenticated(t *testing.T) {
	attackHash := sha256.Sum256([]byte(headAttackDef))
	widen := func(s *storedRun) {
		s.doc["principal"] = json.RawMessage(`{"name":"ci","scopes":["*"]}`)
	}
	swap := func(s *storedRun) {
		s.doc["workflowDefinition"] = json.RawMessage(headAttackDef)
		s.doc["definitionHash"], _ = json.Marshal(hex.EncodeToString(attackHash[:]))
	}
	cases := []struct {
		name string
		edit func(s *storedRun, other *storedRun)
		// unsealed: resumes on WithUnsealedHeads (nothing else is wrong)
		unsealed bool
	}{
		{"untouched", func(*storedRun, *storedRun) {}, false},
		{"scopes widened", func(s, _ *storedRun) { widen(s) }, false},
		{"definition swapped", func(s, _ *storedRun) { swap(s) }, false},
		{"definition swapped and scopes widened", func(s, _ *storedRun) { swap(s); widen(s) }, false},
		{"project changed", func(s, _ *storedRun) { s.doc["project"] = json.RawMessage(`"prod"`) }, false},
		{"seal of another run", func(s, other *storedRun) { s.doc["headSeal"] = other.doc["headSeal"] }, false},
		{"seal stripped", func(s, _ *storedRun) { stripHeadSeal(t, s) }, true},
		{"seal stripped, scopes widened", func(s, _ *storedRun) { stripHeadSeal(t, s); widen(s) }, true},
	}
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			rs := mk()
			kit := newSealKit(t, rs)
			ctx := context.Background()
			newEngine, start := kit.engine, func(id string) { t.Helper(); kit.startWaiting(headDef, id) }
			start("head-other")
			other := loadStoredRun(t, rs, "head-other")
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					id := "head-" + string(rune('a'+i))
					start(id)
					s := loadStoredRun(t, rs, id)
					if s.doc["headSeal"] == nil {
						t.Fatal("the stored head has no headSeal")
					}
					c.edit(s, other)
					s.restoreWith(t, rs, id, s.log)
					kit.inputs()
					resume := func(opts ...engine.Option) (*engine.Result, error) {
						e := newEngine(opts...)
						if _, err := e.CompleteTask(ctx, id, "approve", "", json.RawMessage(`{}`)); err != nil {
							if errors.Is(err, engine.ErrHeadNotAuthentic) {
								return nil, err // refused already: nothing stored
							}
							t.Fatal(err)
						}
						return e.Resume(ctx, id)
					}
					res, err := resume()
					if c.name == "untouched" {
						if err != nil || res.Status != engine.StatusCompleted {
							t.Fatalf("untouched run: %v %+v", err, res)
						}
					} else {
						if !errors.Is(err, engine.ErrHeadNotAuthentic) {
							t.Fatalf("an edited head resumed: %v %+v", err, res)
						}
						if strings.Contains(err.Error(), deployKey) || !strings.Contains(err.Error(), id) {
							t.Fatalf("error: %v", err)
						}
					}
					if c.unsealed {
						res, err := resume(engine.WithUnsealedHeads())
						if err != nil || res.Status != engine.StatusCompleted {
							t.Fatalf("unsealed head on WithUnsealedHeads: %v %+v", err, res)
						}
						// Archived now: its head was written sealed.
						if raw, _, err := rs.Load(ctx, id); err != nil || !strings.Contains(string(raw), `"headSeal":"wfrun-attest:v1:`) {
							t.Fatalf("the resumed run's head is still unsealed: %v %s", err, raw)
						}
					}
					for _, in := range kit.inputs() {
						if strings.Contains(in, deployKey) && !c.unsealed {
							t.Fatalf("the edited run read deploy_key: %s", in)
						}
					}
				})
			}
		})
	}
}
