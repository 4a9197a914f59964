package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// TestRestartOnLatestDefinitionHoldingASecretsValueIsRefused: a restart
// with the latest definition refuses a newer version that holds in clear
// the value of a secret it names, as a start does, with the same one-line
// error, before anything is stored: the run stays as it ended, on its
// version, and no stored byte holds the value.
func TestRestartOnLatestDefinitionHoldingASecretsValueIsRefused(t *testing.T) {
	const v1 = `{"name":"lit_restart","version":1,"schemaVersion":2,"tasks":[
	  {"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"tok":"${workflow.secrets.dyn_key}"}}]}`
	const v2 = `{"name":"lit_restart","version":2,"schemaVersion":2,"tasks":[
	  {"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"tok":"${workflow.secrets.dyn_key}"}},
	  {"name":"echo","taskReferenceName":"b","type":"SIMPLE","inputParameters":{"headers":{"Authorization":"Bearer ` + dynDefSecret + `"}}}]}`
	const want = "workflowDef /tasks/1/inputParameters/headers/Authorization holds the value of secret dyn_key: use ${workflow.secrets.dyn_key}"
	for name, b := range dynDefBackends(t) {
		t.Run(name, func(t *testing.T) {
			rs := b.open(t)
			defer rs.Close()
			dir := t.TempDir()
			e := litDefEngine(t, rs, nil, engine.WithDefinitionsDir(dir))
			ctx := context.Background()
			d, err := e.Parse([]byte(v1))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(ctx, d, json.RawMessage(`{}`))
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("v1: %v %+v", err, res)
			}
			before, _, err := rs.Load(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			// The start refuses v2 ...
			d2, err := e.Parse([]byte(v2))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Start(ctx, d2, json.RawMessage(`{}`)); !errors.Is(err, engine.ErrDefinitionHoldsSecret) || !strings.Contains(err.Error(), want) {
				t.Fatalf("start of v2: %v", err)
			}
			// ... and so does a restart that takes it.
			if err := os.WriteFile(filepath.Join(dir, "lit_restart_v2.json"), []byte(v2), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = e.RestartWith(ctx, res.RunID, engine.RestartOptions{UseLatestDefinitions: true})
			if !errors.Is(err, engine.ErrDefinitionHoldsSecret) || !strings.Contains(err.Error(), want) {
				t.Fatalf("restart on v2: %v, want %q", err, want)
			}
			if strings.Contains(err.Error(), dynDefSecret[:8]) || strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is not one line without the value")
			}
			after, _, err := rs.Load(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(before) {
				t.Errorf("the refused restart changed the stored run")
			}
			if wf := viewRun(t, e, res.RunID); wf.Status != engine.StatusCompleted {
				t.Errorf("after the refused restart: %s", wf.Status)
			}
			noDynDefSecret(t, "after the refused restart", b.raw(t))
		})
	}
}
