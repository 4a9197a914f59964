package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// An archived run is what a client is shown of a run that ended (Show,
// `wfrun show`, serve's workflow GETs) and what a server's wait takes its
// end from (StoredState). Someone who can write the run store turns a
// FAILED run COMPLETED, edits a task's output or a run's output, or its
// principal: both answer an error naming the run, never the edited run,
// and no secret value. Untouched, both answer what was archived.
func TestArchivedViewsAreAuthenticated(t *testing.T) {
	ctx := context.Background()
	mem := runstore.NewMemory()
	kit := newSealKit(t, mem)
	e := kit.engine()
	d, err := e.Parse([]byte(`{"name":"shown","tasks":[
  {"name":"capture","taskReferenceName":"use","inputParameters":{"k":"${workflow.secrets.public_token}"}}],
  "outputParameters":{"ok":"${use.output.ok}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	const id = "shown-archived"
	res, err := e.Start(ctx, d, nil, engine.WithRunID(id),
		engine.AsPrincipal(engine.Principal{Name: "ci", Scopes: []string{"secrets:get:public_token"}}))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("start: %v %+v", err, res)
	}
	if _, archived, err := mem.Load(ctx, id); err != nil || !archived {
		t.Fatalf("archived: %v %v", archived, err)
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte {
			out := strings.Replace(string(b), old, new, 1)
			if out == string(b) {
				t.Fatalf("nothing to edit: no %s in %s", old, b)
			}
			return []byte(out)
		}
	}
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"untouched", func(b []byte) []byte { return b }},
		{"run status", replace(`"status":"COMPLETED"`, `"status":"FAILED"`)},
		{"task output", replace(`"outputData":{"ok":true}`, `"outputData":{"ok":false}`)},
		{"run output", replace(`"output":{"ok":true}`, `"output":{"ok":false}`)},
		{"principal", replace(`"name":"ci"`, `"name":"admin"`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			kit.rs = forgedArchive{Store: mem, edit: c.edit}
			e := kit.engine()
			view, verr := e.Show(ctx, id)
			st, serr := e.StoredState(ctx, id)
			if c.name == "untouched" {
				if verr != nil || !strings.Contains(string(view), `"status":"COMPLETED"`) {
					t.Fatalf("show: %v %s", verr, view)
				}
				if serr != nil || st.Status != engine.StatusCompleted || len(st.Tasks) != 1 {
					t.Fatalf("stored state: %v %+v", serr, st)
				}
				return
			}
			for what, err := range map[string]error{"show": verr, "stored state": serr} {
				if !errors.Is(err, engine.ErrRecordNotAuthentic) && !errors.Is(err, engine.ErrHeadNotAuthentic) {
					t.Fatalf("%s of an archived run whose %s was edited: %v (view %s, state %+v)", what, c.name, err, view, st)
				}
				if !strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "public-token-5521") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s: the error names the run on one line, no value: %v", what, err)
				}
			}
		})
	}
}
