package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// beforeLeaseStore runs before() once, on the next AcquireLease.
type beforeLeaseStore struct {
	runstore.Store
	before func()
}

func (h *beforeLeaseStore) AcquireLease(ctx context.Context, id string, l runstore.Lease, ttl time.Duration) error {
	if f := h.before; f != nil {
		h.before = nil
		f()
	}
	return h.Store.AcquireLease(ctx, id, l, ttl)
}

// startWaitingRun starts run id (one WAIT task) on e and returns once the
// WAIT is IN_PROGRESS; the channel gets the run's result.
func startWaitingRun(t *testing.T, ctx context.Context, e *engine.Engine, id string) <-chan *engine.Result {
	t.Helper()
	def, err := e.Parse([]byte(`{"name":"waits","version":1,"schemaVersion":2,
	  "tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, _ := e.Start(ctx, def, json.RawMessage(`{}`), engine.WithRunID(id))
		done <- res
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, err := e.Show(context.Background(), id); err == nil && strings.Contains(string(b), `"IN_PROGRESS"`) {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never waited")
		}
	}
}

// TestActionsOnARunThatEndsBeforeTheirLeaseLeaveItEnded: UpdateVariables,
// Pause and Terminate load the run, then take its lease; a run that ended
// in between (its runner let the lease go) stays as it ended, and the
// action fails with ErrNotRunning.
func TestActionsOnARunThatEndsBeforeTheirLeaseLeaveItEnded(t *testing.T) {
	bg := context.Background()
	for _, tc := range []struct {
		name string
		act  func(*engine.Engine, string) error
	}{
		{"UpdateVariables", func(e *engine.Engine, id string) error {
			return e.UpdateVariables(bg, id, json.RawMessage(`{"late":1}`), false)
		}},
		{"Pause", func(e *engine.Engine, id string) error { return e.Pause(bg, id) }},
		{"Terminate", func(e *engine.Engine, id string) error { return e.Terminate(bg, id, "late") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := runstore.NewMemory()
			k := keyring(t, 7)
			e1 := harnessEngine(t, rs, engine.WithKeyring(k))
			id := "ended-" + tc.name
			done := startWaitingRun(t, bg, e1, id)
			hs := &beforeLeaseStore{Store: rs, before: func() {
				if _, err := e1.CompleteTask(bg, id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
					t.Errorf("complete: %v", err)
				}
				if res := <-done; res == nil || res.Status != engine.StatusCompleted {
					t.Errorf("the run ended with %+v", res)
				}
				// The runner lets its lease go after archiving.
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					if l, ok, _ := rs.GetLease(bg, id); !ok || !l.Live(time.Now()) {
						break
					}
				}
			}}
			e2 := harnessEngine(t, hs, engine.WithKeyring(k))
			if err := tc.act(e2, id); !errors.Is(err, engine.ErrNotRunning) {
				t.Errorf("%s of an ended run: %v, want ErrNotRunning", tc.name, err)
			}
			b, archived, err := rs.Load(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Status    string         `json:"status"`
				Variables map[string]any `json:"variables"`
			}
			_ = json.Unmarshal(b, &d)
			if d.Status != engine.StatusCompleted || !archived || d.Variables["late"] != nil {
				t.Errorf("after %s: status %s, archived %v, variables %v; want the COMPLETED run as archived", tc.name, d.Status, archived, d.Variables)
			}
		})
	}
}
