package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// domainSecret is a secret's value a parent hands its child.
const domainSecret = "dom-Zx8Cv6Bn4Mq2"

// TestDomainFromAHandedSecretIsRefused: a parent hands its child a
// secret's value as input; the child gives the run it starts (its
// SUB_WORKFLOW's child, a START_WORKFLOW's run) that value as taskToDomain.
// A domain is stored in clear (the run's head, every task record) and
// shown, so the start is refused: the task fails with a reason naming the
// task type, never the value; no stored byte holds the value and no task
// of the run it would have started is queued. The same with a plain
// domain runs, its task queued in that domain.
func TestDomainFromAHandedSecretIsRefused(t *testing.T) {
	starts := map[string]string{
		"SUB_WORKFLOW": `{"name":"g","taskReferenceName":"g","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"dom_grandchild","taskToDomain":{"*":"DOMAIN"},
		  "workflowDefinition":{"name":"dom_grandchild","version":1,"schemaVersion":2,"tasks":[{"name":"gw","taskReferenceName":"gw","type":"SIMPLE"}]}}}`,
		"START_WORKFLOW": `{"name":"g","taskReferenceName":"g","type":"START_WORKFLOW","inputParameters":{"startWorkflow":{"name":"dom_grandchild","taskToDomain":{"*":"DOMAIN"},
		  "workflowDef":{"name":"dom_grandchild","version":1,"schemaVersion":2,"tasks":[{"name":"gw","taskReferenceName":"gw","type":"SIMPLE"}]}}}}`,
	}
	for kind, start := range starts {
		for _, fromSecret := range []bool{true, false} {
			name := kind + map[bool]string{true: "/handed secret", false: "/plain domain"}[fromSecret]
			t.Run(name, func(t *testing.T) {
				k, err := seal.GenerateKey()
				if err != nil {
					t.Fatal(err)
				}
				ring, err := seal.NewKeyring(k)
				if err != nil {
					t.Fatal(err)
				}
				rec := &dynDefRecorder{Store: runstore.NewMemory()}
				var mu sync.Mutex
				domains := map[string]string{}
				queued := make(chan struct{}, 1)
				e, err := engine.New(
					engine.WithRegistry(tasks.NewDefaultRegistry()),
					engine.WithRunStore(rec),
					engine.WithKeyring(ring),
					engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
						return interpolate.MapSecrets{"dom": json.RawMessage(`"` + domainSecret + `"`)}
					}),
					engine.WithRemoteWorker(func(_ context.Context, rt engine.RemoteTask) tasks.Result {
						mu.Lock()
						domains[rt.Name] = rt.Domain
						mu.Unlock()
						if rt.Name == "gw" {
							queued <- struct{}{}
						}
						return tasks.Result{Status: tasks.Completed}
					}),
				)
				if err != nil {
					t.Fatal(err)
				}
				handed := `"${workflow.secrets.dom}"`
				if !fromSecret {
					handed = `"plain-domain"`
				}
				d, err := e.Parse([]byte(`{"name":"dom_parent","version":1,"schemaVersion":2,"tasks":[
				  {"name":"c","taskReferenceName":"c","type":"SUB_WORKFLOW","inputParameters":{"d":` + handed + `},
				   "subWorkflowParam":{"name":"dom_child","workflowDefinition":{"name":"dom_child","version":1,"schemaVersion":2,"tasks":[
				     {"name":"cw","taskReferenceName":"cw","type":"SIMPLE"},` + strings.Replace(start, "DOMAIN", "${workflow.input.d}", 1) + `]}}}]}`))
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				if !fromSecret {
					if res.Status != engine.StatusCompleted {
						t.Fatalf("%s %q", res.Status, res.Reason)
					}
					<-queued
					mu.Lock()
					defer mu.Unlock()
					if domains["gw"] != "plain-domain" {
						t.Errorf("the started run's task was queued in %q", domains["gw"])
					}
					return
				}
				const want = `taskToDomain "*" holds a secret's value: a domain is stored in clear and shown`
				if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, want) {
					t.Errorf("%s %q, want FAILED saying %q", res.Status, strings.ReplaceAll(res.Reason, domainSecret, "<value>"), want)
				}
				mu.Lock()
				if _, ok := domains["gw"]; ok {
					t.Errorf("the started run's task was queued (domain of length %d)", len(domains["gw"]))
				}
				mu.Unlock()
				rec.mu.Lock()
				defer rec.mu.Unlock()
				for _, piece := range []string{domainSecret, domainSecret[:8], domainSecret[len(domainSecret)-8:]} {
					if bytes.Contains(rec.all.Bytes(), []byte(piece)) {
						t.Errorf("a stored byte holds %q of the value", piece)
					}
				}
			})
		}
	}
}
