package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// TestStartRefusesRunIDWithSlash: a run id chosen with WithRunID that the
// store cannot key as a run of its own ("/" separates a run's id from its
// answer slots) is refused before anything is stored, in one line naming
// the workflow and the id.
func TestStartRefusesRunIDWithSlash(t *testing.T) {
	runs := runstore.NewMemory()
	h := newHarness(t, runs)
	def, err := h.e.Parse([]byte(`{"name":"ids","version":1,"tasks":[{"name":"s","taskReferenceName":"s","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.e.Start(context.Background(), def, nil, engine.WithRunID("team/run-1"))
	if !errors.Is(err, runstore.ErrBadRunID) {
		t.Fatalf("Start with id team/run-1 = %v, want ErrBadRunID", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "ids") || !strings.Contains(msg, `"team/run-1"`) {
		t.Fatalf("error %q: want one line naming the workflow and the id", msg)
	}
	if _, _, lerr := runs.Load(context.Background(), "team/run-1"); lerr == nil {
		t.Fatal("the refused run was stored")
	}
	res, err := h.e.Start(context.Background(), def, nil, engine.WithRunID("team-run-1"))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("Start with id team-run-1 = %+v, %v", res, err)
	}
}
