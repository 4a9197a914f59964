package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// TestSignalledVariableUpdatesAndSetVariableTasksAllLand: updates sent to
// the process executing a run are merged while the run's SET_VARIABLE
// tasks merge too; every update and every task's variable is in the run.
func TestSignalledVariableUpdatesAndSetVariableTasksAllLand(t *testing.T) {
	rs := runstore.NewMemory()
	e := harnessEngine(t, rs, engine.WithKeyring(keyring(t, 7)))
	def, err := e.Parse([]byte(`{"name":"vars_race","version":1,"schemaVersion":2,
	  "tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	    "loopCondition":"$.loop['iteration'] < 400",
	    "loopOver":[{"name":"sv","taskReferenceName":"sv","type":"SET_VARIABLE",
	      "inputParameters":{"big":"` + strings.Repeat("x", 120) + `","it":"${loop.output.iteration}"}}]},
	   {"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const id = "race-run-1"
	go func() { _, _ = e.Start(ctx, def, json.RawMessage(`{}`), engine.WithRunID(id)) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := e.Show(ctx, id); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
	}
	const n = 60
	for i := 0; i < n; i++ {
		if err := e.UpdateVariables(ctx, id, json.RawMessage(fmt.Sprintf(`{"ext_%d":true}`, i)), false); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	var vars map[string]any
	missing := []string{}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, err := e.Show(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Variables map[string]any `json:"variables"`
			Tasks     []struct {
				Ref    string `json:"referenceTaskName"`
				Status string `json:"status"`
			} `json:"tasks"`
		}
		_ = json.Unmarshal(b, &d)
		vars, missing = d.Variables, missing[:0]
		for i := 0; i < n; i++ {
			if vars[fmt.Sprintf("ext_%d", i)] != true {
				missing = append(missing, fmt.Sprintf("ext_%d", i))
			}
		}
		waiting := len(d.Tasks) > 0 && d.Tasks[len(d.Tasks)-1].Ref == "w"
		if waiting && len(missing) == 0 || time.Now().After(deadline) {
			if !waiting {
				t.Fatal("the loop never ended")
			}
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d updates lost: %v", len(missing), n, missing)
	}
	if vars["big"] == nil || vars["it"] == nil {
		t.Errorf("the SET_VARIABLE variables are lost: %v", vars)
	}
}

// TestVariablesUpdatesFromAnotherProcessApplyInSendingOrder: updates of
// one variable sent by a process that does not execute the run are
// applied by its executor in the order they were sent: the last wins.
func TestVariablesUpdatesFromAnotherProcessApplyInSendingOrder(t *testing.T) {
	rs := runstore.NewMemory()
	k := keyring(t, 7)
	e1 := harnessEngine(t, rs, engine.WithKeyring(k))
	e2 := harnessEngine(t, rs, engine.WithKeyring(k),
		engine.WithSignalNotify(func(_ context.Context, id string) { e1.SignalStored(id) })) // as serve's notice does
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const id = "order-run-1"
	startWaitingRun(t, ctx, e1, id)
	for round := 0; round < 4; round++ {
		want := float64(round*100 + 12)
		for i := 1; i <= 12; i++ {
			if err := e2.UpdateVariables(ctx, id, json.RawMessage(fmt.Sprintf(`{"n":%d}`, round*100+i)), false); err != nil {
				t.Fatal(err)
			}
		}
		var n any
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, err := e1.Show(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Variables map[string]any `json:"variables"`
			}
			_ = json.Unmarshal(b, &d)
			if n = d.Variables["n"]; n == want {
				break
			}
		}
		if n != want {
			t.Errorf("round %d: n = %v, want %v (the last update sent)", round, n, want)
		}
	}
}

// TestUpdateVariablesReportsAnUpdateTheRunCannotTake: an update over the
// variables limit fails with ErrBadVariables, whoever executes the run,
// and the run's variables stay as they were.
func TestUpdateVariablesReportsAnUpdateTheRunCannotTake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remote bool   // sent by a process that does not execute the run
		update string // on top of {"a":1}
	}{
		{"too large alone, executed here", false, `{"blob":"` + strings.Repeat("a", 3*1024) + `"}`},
		{"too large alone, executed elsewhere", true, `{"blob":"` + strings.Repeat("a", 3*1024) + `"}`},
		{"too large merged, executed here", false, `{"blob":"` + strings.Repeat("a", 1200) + `","more":"` + strings.Repeat("b", 400) + `"}`},
		{"too large merged, executed elsewhere", true, `{"blob":"` + strings.Repeat("a", 1200) + `","more":"` + strings.Repeat("b", 400) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := runstore.NewMemory()
			k := keyring(t, 7)
			opts := []engine.Option{engine.WithKeyring(k), engine.WithMaxVariablesPayloadKB(2)}
			e1 := harnessEngine(t, rs, opts...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			id := "big-run-1"
			startWaitingRun(t, ctx, e1, id)
			pad := `{"a":"` + strings.Repeat("p", 700) + `"}`
			if err := e1.UpdateVariables(ctx, id, json.RawMessage(pad), false); err != nil {
				t.Fatal(err)
			}
			sender := e1
			if tc.remote {
				sender = harnessEngine(t, rs, append(opts,
					engine.WithSignalNotify(func(_ context.Context, id string) { e1.SignalStored(id) }))...)
			}
			err := sender.UpdateVariables(ctx, id, json.RawMessage(tc.update), false)
			if !errors.Is(err, engine.ErrBadVariables) {
				t.Fatalf("UpdateVariables: %v, want ErrBadVariables", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "greater than the permissible limit: 2 kilobytes") {
				t.Errorf("error %q does not say why", msg)
			}
			time.Sleep(300 * time.Millisecond)
			b, err := e1.Show(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Variables map[string]any `json:"variables"`
			}
			_ = json.Unmarshal(b, &d)
			if d.Variables["blob"] != nil || d.Variables["a"] == nil {
				t.Errorf("variables after the refused update: %v keys", len(d.Variables))
			}
		})
	}
}
