//go:build unix

package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
)

// failSecretCrashHandler: the failure run of failSecretRun in the crash
// test, whose two worker tasks read the failed run's `_secrets` leaf and
// maskedFields value.
const failSecretCrashHandler = `{"name":"fail_secret_handler","version":1,"schemaVersion":2,"tasks":[
  {"name":"failsec_use","taskReferenceName":"u1","inputParameters":{"ref":"u1","k":"${workflow.input.failedWorkflow.input._secrets.k}",
    "pw":"${workflow.input.failedWorkflow.input.pw}","topPw":"${workflow.input.pw}"}},
  {"name":"failsec_use","taskReferenceName":"u2","inputParameters":{"ref":"u2","k":"${workflow.input.failedWorkflow.input._secrets.k}",
    "pw":"${workflow.input.failedWorkflow.input.pw}","topPw":"${workflow.input.pw}"}}]}`

const failSecretCrashRun = "fail-secret-crash-run"

// failSecretCrashEngine runs failSecretRun and its failure run from defs:
// the workers log their ref and whether they got the values (never a
// value) to logPath.
func failSecretCrashEngine(t *testing.T, rs runstore.Store, defs, logPath string) *engine.Engine {
	t.Helper()
	var mu sync.Mutex
	e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 14)), engine.WithRegistry(rotationRegistry(false)),
		engine.WithDefinitionsDir(defs),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource { return interpolate.MapSecrets{} }),
		engine.WithWorker("failsec_use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v map[string]any
			_ = json.Unmarshal(in, &v)
			ref, _ := v["ref"].(string)
			ok := v["k"] == subSecretSealed && v["pw"] == subSecretMasked && v["topPw"] == subSecretMasked
			mu.Lock()
			defer mu.Unlock()
			f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			if _, err := fmt.Fprintf(f, "%s:%s\n", ref, map[bool]string{true: "ok", false: "bad"}[ok]); err != nil {
				return nil, err
			}
			return json.RawMessage(`{"done":true}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	engine.WithoutEarlyWrites(e)
	return e
}

// TestKillAtEveryFailureRunSecretInputWrite: a process whose run fails
// holding a `_secrets` leaf and a maskedFields value, killed just before
// or just after each write (the failed run's end and archive, the failure
// run's start and each of its writes), leaves runs that resumes finish:
// every call of the failure run's workers, in either process, got the
// values (a failure run stored before the failed run's archive keeps them
// sealed in its own input), and no byte of the store file holds one.
func TestKillAtEveryFailureRunSecretInputWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	defs := subSecretDefs(t, failSecretCrashHandler)
	count := &countingStore{Store: runstore.NewMemory()}
	log := filepath.Join(t.TempDir(), "log")
	e := failSecretCrashEngine(t, count, defs, log)
	d, err := e.Parse([]byte(failSecretRun))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(subSecretInput))
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("reference run: %v %+v", err, res)
	}
	if err := e.WaitStarted(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := countLog(t, log); c["u1:ok"] != 1 || c["u2:ok"] != 1 || c["u1:bad"]+c["u2:bad"] != 0 {
		t.Fatalf("reference run: the workers logged %v", c)
	}
	killAtEveryWrite(t, "", count.n, 6, func(t *testing.T, k int, before bool) {
		dir := t.TempDir()
		db, logPath := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log")
		runRerunKillChild(t, "TestFailureRunSecretInputCrashChild", append(killChildEnv("WFRUN_FAILSEC", db, k, before),
			"WFRUN_FAILSEC_LOG="+logPath, "WFRUN_FAILSEC_DEFS="+defs)...)
		rs, err := runstore.OpenBolt(db)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, _, err := rs.Load(ctx, failSecretCrashRun); errors.Is(err, runstore.ErrNotFound) && k == 1 && before {
			_ = rs.Close()
			return // killed before the run's first write
		}
		e := failSecretCrashEngine(t, rs, defs, logPath)
		// The failed run first (it ends again, with a failure run, unless
		// its end was stored), then every other run left.
		if _, err := e.Resume(ctx, failSecretCrashRun); err != nil && !errors.Is(err, engine.ErrNotRunning) {
			t.Fatalf("resume of the failed run after write %d: %v", k, err)
		}
		if err := e.WaitStarted(ctx); err != nil {
			t.Fatal(err)
		}
		sums, err := rs.List(ctx, runstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sums {
			if s.ID == failSecretCrashRun {
				continue
			}
			if _, err := e.Resume(ctx, s.ID); err != nil && !errors.Is(err, engine.ErrNotRunning) {
				t.Fatalf("resume of %s after write %d: %v", s.ID, k, err)
			}
		}
		if err := e.WaitStarted(ctx); err != nil {
			t.Fatal(err)
		}
		doc, archived, err := rs.Load(ctx, failSecretCrashRun)
		if err != nil || !archived {
			t.Fatalf("the failed run after the resume: archived %v, %v", archived, err)
		}
		var out struct {
			Output map[string]string `json:"output"`
		}
		_ = json.Unmarshal(doc, &out)
		fid := out.Output["conductor.failure_workflow"]
		fdoc, farchived, err := rs.Load(ctx, fid)
		if err != nil || !farchived || !bytes.Contains(fdoc, []byte(`"status":"COMPLETED"`)) {
			t.Fatalf("the failure run %q it names: archived %v, %v", fid, farchived, err)
		}
		c := countLog(t, logPath)
		if c["u1:bad"]+c["u2:bad"] != 0 || c["u1:ok"] < 1 || c["u2:ok"] < 1 {
			t.Fatalf("the workers logged %v: want every call with the values", c)
		}
		if err := rs.Close(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{subSecretSealed, subSecretMasked} {
			for _, f := range leakForms(v) {
				if bytes.Contains(raw, []byte(f)) {
					t.Fatalf("runs.db holds a value (form %.8s…)", f)
				}
			}
		}
	})
}

// TestFailureRunSecretInputCrashChild is the process
// TestKillAtEveryFailureRunSecretInputWrite kills (skipped unless it
// started it).
func TestFailureRunSecretInputCrashChild(t *testing.T) {
	w := openKillChild(t, "WFRUN_FAILSEC", "TestKillAtEveryFailureRunSecretInputWrite")
	e := failSecretCrashEngine(t, w, os.Getenv("WFRUN_FAILSEC_DEFS"), os.Getenv("WFRUN_FAILSEC_LOG"))
	d, err := e.Parse([]byte(failSecretRun))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = e.Start(context.Background(), d, json.RawMessage(subSecretInput), engine.WithRunID(failSecretCrashRun))
	_ = e.WaitStarted(context.Background())
	t.Log("child was not killed (writes made: all)")
}
