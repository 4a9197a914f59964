package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
)

// A registered value of 4 bytes or more occurs inside a run id or a task
// id by chance (a 4-digit PIN in about 1 run in 2,000). idPartSecrets
// makes that chance a certainty: its secret "pin" is, for the run that
// reads it, the first 8 characters of that run's own id (a failure run's
// id is random, and its secrets are read as it starts); "failedPin" is
// the first 8 of idMaskFailed, the failed run's id; "firstFailure" the
// first 8 of the failure run's id stored in it once there is one.
type idPartSecrets struct{ firstFailure *atomic.Value }

const idMaskFailed = "5b0d7a4e-0000-4000-8000-00000000c01f"

func (s idPartSecrets) Secret(ctx context.Context, name string) ([]byte, error) {
	run, _ := store.RunOf(ctx)
	switch {
	case name == "firstFailure":
		id, _ := s.firstFailure.Load().(string)
		if id == "" {
			id = "no-failure-run-yet"
		}
		return json.Marshal(id[:8])
	case name == "pin" && len(run) >= 8:
		return json.Marshal(run[:8])
	case name == "failedPin":
		return json.Marshal(idMaskFailed[:8])
	}
	return nil, interpolate.ErrSecretNotFound
}

// onFailPinDef is on_fail whose notify task reads secret "pin": the
// failure run registers, as it starts, a value its own id holds, with the
// masker it shares with the failed run.
const onFailPinDef = `{"name":"on_fail","version":1,"schemaVersion":2,"tasks":[{"name":"notify","taskReferenceName":"notify","type":"SIMPLE",
  "inputParameters":{"pin":"${workflow.secrets.pin}","failedPin":"${workflow.secrets.failedPin}","failed":"${workflow.input.workflowId}"}}]}`

// idMaskFailsDef is failsDef reading "firstFailure" (a restart reads it
// again).
const idMaskFailsDef = `{"name":"fails","version":1,"schemaVersion":2,"failureWorkflow":"on_fail","tasks":[{"name":"end","taskReferenceName":"end","type":"TERMINATE",
  "inputParameters":{"terminationStatus":"FAILED","terminationReason":"on purpose","first":"${workflow.secrets.firstFailure}"}}]}`

func idPartRig(t *testing.T, rs runstore.Store, notified *atomic.Int64, first *atomic.Value, opts ...engine.Option) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "on_fail.json"), []byte(onFailPinDef), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(append([]engine.Option{engine.WithRunStore(rs), engine.WithDefinitionsDir(dir),
		engine.WithKeyring(keyring(t, 21)), engine.WithPollInterval(5 * time.Millisecond),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource { return idPartSecrets{first} }),
		engine.WithWorker("notify", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			notified.Add(1)
			return json.RawMessage(`{}`), nil
		})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFailureRunWhoseIDHoldsAValue: a failure run whose id holds a value
// the runs registered (its own secret, read as it starts with the masker
// it shares with the failed run) is named by the failed run's end as it
// is, in the stored end, the archive and the Result: its gate finds
// itself named and it executes (before, the end named "***-…", no run, and
// the failure run was dropped unexecuted). Its own head (failureOf names
// the failed run, whose id holds a registered value too) verifies when it
// is archived and shown; a restart of the failed run keeps the failure
// run's id among restartedFailures as it is. The values stay out of the
// free text: the task's stored input keeps the references; the failed
// run's id the failure run reads from its input is shown whole there, as
// every id the engine wrote is (masking.Masker.KeepID). On memory, bolt
// and a real redis-server.
func TestFailureRunWhoseIDHoldsAValue(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			rs := b.open(t)
			var notified atomic.Int64
			var first atomic.Value
			e := idPartRig(t, rs, &notified, &first)
			d, err := e.Parse([]byte(idMaskFailsDef))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(idMaskFailed))
			if err != nil || res.Status != engine.StatusFailed {
				t.Fatalf("start: %v %+v", err, res)
			}
			if err := e.WaitStarted(ctx); err != nil {
				t.Fatal(err)
			}
			runs := runsOf(t, rs, "on_fail")
			if len(runs) != 1 {
				t.Fatalf("failure runs %+v, want one (the failed run's output %s)", runs, res.Output)
			}
			fid := runs[0].ID
			if got := failureRunOf(t, res); got != fid {
				t.Fatalf("the Result names failure run %q, want %s", got, fid)
			}
			raw, archived, err := rs.Load(ctx, idMaskFailed)
			if err != nil || !archived {
				t.Fatalf("the failed run: archived %v, %v", archived, err)
			}
			var failed struct {
				Output map[string]string `json:"output"`
			}
			if err := json.Unmarshal(raw, &failed); err != nil {
				t.Fatal(err)
			}
			if got := failed.Output["conductor.failure_workflow"]; got != fid {
				t.Fatalf("the archived end names failure run %q, want %s", got, fid)
			}
			if runs[0].Status != engine.StatusCompleted || notified.Load() != 1 {
				t.Fatalf("failure run %s %s, notified %d times", fid, runs[0].Status, notified.Load())
			}
			fraw, farchived, err := rs.Load(ctx, fid)
			if err != nil || !farchived {
				t.Fatalf("the failure run: archived %v, %v", farchived, err)
			}
			var frun struct {
				FailureOf string `json:"failureOf"`
				Input     struct {
					WorkflowID string `json:"workflowId"`
				} `json:"input"`
				Tasks []struct {
					In map[string]string `json:"inputData"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal(fraw, &frun); err != nil {
				t.Fatal(err)
			}
			if len(frun.Tasks) != 1 || frun.Tasks[0].In["pin"] != "${workflow.secrets.pin}" ||
				frun.Tasks[0].In["failedPin"] != "${workflow.secrets.failedPin}" || frun.Tasks[0].In["failed"] != idMaskFailed ||
				frun.Input.WorkflowID != idMaskFailed {
				t.Fatalf("the failure run's stored input and task input: %s", fraw)
			}
			for _, id := range []string{idMaskFailed, fid} {
				v, err := e.Show(ctx, id)
				if err != nil {
					t.Fatalf("show %s: %v", id, err)
				}
				if id == idMaskFailed {
					var shown struct {
						Output map[string]string `json:"output"`
					}
					if err := json.Unmarshal(v, &shown); err != nil || shown.Output["conductor.failure_workflow"] != fid {
						t.Fatalf("show %s names failure run %q (%v), want %s", id, shown.Output["conductor.failure_workflow"], err, fid)
					}
				}
			}
			// The restart reads firstFailure again: the restarted run
			// registers a value its restartedFailures holds, and is
			// archived with it as it ends again.
			first.Store(fid)
			for i := range 2 {
				if _, err := e.Restart(ctx, idMaskFailed, true); err != nil {
					t.Fatalf("restart %d: %v", i+1, err)
				}
				if err := e.WaitStarted(ctx); err != nil {
					t.Fatal(err)
				}
				raw, archived, err = rs.Load(ctx, idMaskFailed)
				if err != nil || !archived {
					t.Fatalf("the restarted run: archived %v, %v", archived, err)
				}
				var restarted struct {
					RestartedFailures string `json:"restartedFailures"`
				}
				if err := json.Unmarshal(raw, &restarted); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(restarted.RestartedFailures, fid) {
					t.Fatalf("restart %d: restartedFailures %q, want %s among them", i+1, restarted.RestartedFailures, fid)
				}
				if _, err := e.Show(ctx, idMaskFailed); err != nil {
					t.Fatalf("show %s after restart %d: %v", idMaskFailed, i+1, err)
				}
			}
			if n := notified.Load(); n != 3 {
				t.Fatalf("the failure runs notified %d times, want 3", n)
			}
		})
	}
}
