package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// litDefEngine runs over rs with the secret dyn_key (dynDefSecret) and a
// definitions directory holding defs (file name → JSON); its worker
// "echo" answers its input.
func litDefEngine(t *testing.T, rs runstore.Store, defs map[string]string, more ...engine.Option) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	for name, d := range defs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(d), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(append([]engine.Option{
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithRunStore(rs),
		engine.WithKeyring(ring),
		engine.WithDefinitionsDir(dir),
		engine.WithPollInterval(20 * time.Millisecond),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"dyn_key": json.RawMessage(`"` + dynDefSecret + `"`)}
		}),
		engine.WithWorker("echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			return in, nil
		}),
	}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// litDefChild is a registered definition that names no secret and holds
// dyn_key's value in a header: only its parent's run knows the value.
const litDefChild = `{"name":"lit_child","version":1,"schemaVersion":2,"tasks":[
  {"name":"echo","taskReferenceName":"e","type":"SIMPLE","inputParameters":{"headers":{"Authorization":"Bearer ` + dynDefSecret + `"}}}]}`

// TestDefinitionHoldingASecretsValueIsRefused: a definition that holds a
// secret's value in clear is refused before its run stores anything,
// with an error naming the secret and the JSON pointer (never the value);
// a definition stores as it is and is never masked again. Started
// directly, inline in a SUB_WORKFLOW, and registered as the child of a
// run that resolved the value; on memory, bolt and a real redis-server,
// every stored byte checked. A definition that only reads the secret runs.
func TestDefinitionHoldingASecretsValueIsRefused(t *testing.T) {
	backends := dynDefBackends(t)
	backends["redis"] = redisBackend(t)
	for name, b := range backends {
		t.Run(name, func(t *testing.T) {
			rs := b.open(t)
			defer rs.Close()
			e := litDefEngine(t, rs, map[string]string{"lit_child.json": litDefChild})
			ctx := context.Background()
			start := func(def string) (*engine.Result, error) {
				t.Helper()
				d, err := e.Parse([]byte(def))
				if err != nil {
					t.Fatal(err)
				}
				return e.Start(ctx, d, json.RawMessage(`{}`))
			}

			// It reads the secret: it runs (and stores what it does).
			res, err := start(`{"name":"reads","version":1,"schemaVersion":2,"tasks":[
			  {"name":"echo","taskReferenceName":"e","type":"SIMPLE","inputParameters":{"tok":"${workflow.secrets.dyn_key}"}}]}`)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("a definition reading the secret: %v %+v", err, res)
			}

			refused := []struct{ what, def, want string }{
				{"its own task", `{"name":"pasted","version":1,"schemaVersion":2,"tasks":[
				  {"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"tok":"${workflow.secrets.dyn_key}"}},
				  {"name":"echo","taskReferenceName":"b","type":"SIMPLE","inputParameters":{"headers":{"Authorization":"Bearer ` + dynDefSecret + `"}}}]}`,
					"workflowDef /tasks/1/inputParameters/headers/Authorization holds the value of secret dyn_key: use ${workflow.secrets.dyn_key}"},
				{"under _secrets", `{"name":"pasted2","version":1,"schemaVersion":2,"tasks":[
				  {"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"_secrets":{"t":"${workflow.secrets.dyn_key}","u":"` + dynDefSecret + `"}}}]}`,
					"workflowDef /tasks/0/inputParameters/_secrets/u holds the value of secret dyn_key"},
				{"an inline sub-workflow", `{"name":"inl","version":1,"schemaVersion":2,"tasks":[
				  {"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"tok":"${workflow.secrets.dyn_key}"}},
				  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"x","version":1,"workflowDefinition":` + litDefChild + `}}]}`,
					"workflowDef /tasks/1/subWorkflowParam/workflowDefinition/tasks/0/inputParameters/headers/Authorization holds the value of secret dyn_key"},
				// The value typed as a reference's name: the run would
				// store it with the definition and read it as a name.
				{"as a secret reference's name", `{"name":"asname","version":1,"schemaVersion":2,"tasks":[
				  {"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"tok":"${workflow.secrets.dyn_key}","oops":"${workflow.secrets.` + dynDefSecret + `}"}}]}`,
					"workflowDef /tasks/0/inputParameters/oops holds the value of secret dyn_key"},
			}
			for _, c := range refused {
				res, err := start(c.def)
				if err == nil {
					t.Errorf("%s: started (%+v), want refused", c.what, res)
					continue
				}
				if !errors.Is(err, engine.ErrDefinitionHoldsSecret) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: error %q, want it to say %q", c.what, strings.ReplaceAll(err.Error(), dynDefSecret, "<value>"), c.want)
				}
				if strings.Contains(err.Error(), dynDefSecret[:8]) {
					t.Errorf("%s: the error holds the value", c.what)
				}
			}

			// The child a run starts by name holds a value its parent
			// resolved: the child is refused, the parent's task fails.
			res, err = start(`{"name":"parent","version":1,"schemaVersion":2,"tasks":[
			  {"name":"echo","taskReferenceName":"a","type":"SIMPLE","inputParameters":{"tok":"${workflow.secrets.dyn_key}"}},
			  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"lit_child","version":1}}]}`)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "workflowDef /tasks/0/inputParameters/headers/Authorization holds the value of a secret its parent run resolved") {
				t.Errorf("parent of a child holding the value: %s %q", res.Status, res.Reason)
			}
			noDynDefSecret(t, "after the refusals", b.raw(t))
		})
	}
}

// TestSubWorkflowDefinitionFromAMaskedOutputIsRefused: a SUB_WORKFLOW's
// definition built from a task's output that held a secret's value
// outside `_secrets` (masked in the run: "***") is refused, the task
// failing with a reason naming the expression (so the task) and the
// pointer, where the child ran with "***" in place of the value.
func TestSubWorkflowDefinitionFromAMaskedOutputIsRefused(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	e := litDefEngine(t, runstore.NewMemory(), nil, engine.WithEvents(func(ev engine.Event) {
		if ev.Kind == engine.EventTask && ev.TaskRef == "e" {
			mu.Lock()
			ran = append(ran, ev.Status)
			mu.Unlock()
		}
	}))
	d, err := e.Parse([]byte(`{"name":"masked_def_parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"mk","taskReferenceName":"mk","type":"INLINE","inputParameters":{"tok":"${workflow.secrets.dyn_key}","evaluatorType":"javascript",
	    "expression":"({name:'mchild',version:1,schemaVersion:2,tasks:[{name:'echo',taskReferenceName:'e',type:'SIMPLE',inputParameters:{headers:{Authorization:'Bearer '+$.tok}}}]})"}},
	  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"mchild","version":1,"workflowDefinition":"${mk.output.result}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	const want = `subWorkflowParam.workflowDefinition "${mk.output.result}": /tasks/0/inputParameters/headers/Authorization holds "***" where a secret's value was`
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, want) {
		t.Errorf("%s %q, want FAILED saying %q", res.Status, res.Reason, want)
	}
	if strings.Contains(res.Reason, dynDefSecret[:8]) {
		t.Error("the reason holds the value")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ran) != 0 {
		t.Errorf("the child's task ran: %v", ran)
	}
}
