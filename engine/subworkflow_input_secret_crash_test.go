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

// subSecretCrashDef: a SUB_WORKFLOW task handing its child a secret's
// value (whole and within text), a leaf of the run's sealed `_secrets`
// input and a `_secrets` subtree; the child's two worker tasks use them,
// the second failing the first time it is called (in any process), which
// fails the child, and the task's retry starts another.
const subSecretCrashDef = `{"name":"sub_secret_crash","tasks":[
  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":1,"taskDefinition":{"retryDelaySeconds":0},
   "inputParameters":{"tok":"${workflow.secrets.sub_api}","hdr":"Bearer ${workflow.secrets.sub_api}",
     "fromSealed":"${workflow.input._secrets.k}","_secrets":{"s":"${workflow.secrets.sub_api}"}},
   "subWorkflowParam":{"name":"sub_secret_crash_child","workflowDefinition":{"name":"sub_secret_crash_child","tasks":[
     {"name":"subsec_use","taskReferenceName":"c1","retryCount":0,"inputParameters":{"ref":"c1","tok":"${workflow.input.tok}","hdr":"${workflow.input.hdr}",
       "fromSealed":"${workflow.input.fromSealed}","s":"${workflow.input._secrets.s}","own":"${workflow.secrets.sub_own}"}},
     {"name":"subsec_use","taskReferenceName":"c2","retryCount":0,"inputParameters":{"ref":"c2","tok":"${workflow.input.tok}","hdr":"${workflow.input.hdr}",
       "fromSealed":"${workflow.input.fromSealed}","s":"${workflow.input._secrets.s}","own":"${workflow.secrets.sub_own}"}}]}}}]}`

const subSecretCrashRun = "sub-secret-crash-run"

// subSecretCrashEngine runs subSecretCrashDef's workers: each logs its ref
// and whether it got the values (never a value) to logPath.
func subSecretCrashEngine(t *testing.T, rs runstore.Store, logPath string) *engine.Engine {
	t.Helper()
	var mu sync.Mutex
	e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 13)), engine.WithRegistry(rotationRegistry(false)),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"sub_api": json.RawMessage(`"` + subSecretAPI + `"`), "sub_own": json.RawMessage(`"` + subSecretOwn + `"`)}
		}),
		engine.WithWorker("subsec_use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v map[string]any
			_ = json.Unmarshal(in, &v)
			ref, _ := v["ref"].(string)
			ok := v["tok"] == subSecretAPI && v["hdr"] == "Bearer "+subSecretAPI && v["fromSealed"] == subSecretSealed &&
				v["s"] == subSecretAPI && v["own"] == subSecretOwn
			mu.Lock()
			defer mu.Unlock()
			c := countLog(t, logPath)
			earlier := c[ref+":ok"] + c[ref+":bad"]
			f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			if _, err := fmt.Fprintf(f, "%s:%s\n", ref, map[bool]string{true: "ok", false: "bad"}[ok]); err != nil {
				return nil, err
			}
			if ref == "c2" && earlier == 0 {
				return nil, errors.New("the first call fails")
			}
			return json.RawMessage(`{"done":true}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	engine.WithoutEarlyWrites(e)
	return e
}

// TestKillAtEverySubWorkflowSecretInputWrite: a process running a parent
// whose SUB_WORKFLOW task hands its child values from secrets and from
// the parent's sealed input, killed just before or just after each of its
// writes (the parent's, the children's, the retry's), leaves runs that a
// resume of the parent (which resumes or starts the child) finishes: every
// call of the children's workers, in either process, got the values, and
// no byte of the store file holds one.
func TestKillAtEverySubWorkflowSecretInputWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	count := &countingStore{Store: runstore.NewMemory()}
	log := filepath.Join(t.TempDir(), "log")
	e := subSecretCrashEngine(t, count, log)
	d, err := e.Parse([]byte(subSecretCrashDef))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{"_secrets":{"k":"`+subSecretSealed+`"}}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("reference run: %v %+v", err, res)
	}
	if c := countLog(t, log); c["c1:ok"] != 2 || c["c2:ok"] != 2 || c["c1:bad"]+c["c2:bad"] != 0 {
		t.Fatalf("reference run: the workers logged %v", c)
	}
	killAtEveryWrite(t, "", count.n, 10, func(t *testing.T, k int, before bool) {
		dir := t.TempDir()
		db, logPath := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log")
		runRerunKillChild(t, "TestSubWorkflowSecretInputCrashChild", append(killChildEnv("WFRUN_SUBSEC", db, k, before), "WFRUN_SUBSEC_LOG="+logPath)...)
		rs, err := runstore.OpenBolt(db)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := rs.Load(context.Background(), subSecretCrashRun); errors.Is(err, runstore.ErrNotFound) && k == 1 && before {
			_ = rs.Close()
			return // killed before the run's first write
		}
		e := subSecretCrashEngine(t, rs, logPath)
		res, err := e.Resume(context.Background(), subSecretCrashRun)
		if errors.Is(err, engine.ErrNotRunning) {
			res, err = &engine.Result{Status: engine.StatusCompleted}, nil // archived before the kill
		}
		if err != nil || res.Status != engine.StatusCompleted {
			t.Fatalf("resume after write %d: %v %+v", k, err, res)
		}
		c := countLog(t, logPath)
		if c["c1:bad"]+c["c2:bad"] != 0 || c["c1:ok"] < 1 || c["c2:ok"] < 2 {
			t.Fatalf("the workers logged %v: want every call with the values, c2's twice at least (its first fails)", c)
		}
		if err := rs.Close(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{subSecretAPI, subSecretSealed, subSecretOwn} {
			for _, f := range leakForms(v) {
				if bytes.Contains(raw, []byte(f)) {
					t.Fatalf("runs.db holds a value (form %.8s…)", f)
				}
			}
		}
	})
}

// TestSubWorkflowSecretInputCrashChild is the process
// TestKillAtEverySubWorkflowSecretInputWrite kills (skipped unless it
// started it).
func TestSubWorkflowSecretInputCrashChild(t *testing.T) {
	w := openKillChild(t, "WFRUN_SUBSEC", "TestKillAtEverySubWorkflowSecretInputWrite")
	e := subSecretCrashEngine(t, w, os.Getenv("WFRUN_SUBSEC_LOG"))
	d, err := e.Parse([]byte(subSecretCrashDef))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = e.Start(context.Background(), d, json.RawMessage(`{"_secrets":{"k":"`+subSecretSealed+`"}}`), engine.WithRunID(subSecretCrashRun))
	t.Log("child was not killed (writes made: all)")
}
