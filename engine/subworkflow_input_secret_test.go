package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
)

// The values a SUB_WORKFLOW child is handed, each from another door of
// its parent's secret boundary: a secret the parent's task resolves (whole
// and within text), a leaf of the parent's sealed `_secrets` input, a
// maskedFields value of the parent's input, a `_secrets` subtree of the
// task's input. The child reads its own secret from its store.
const (
	subSecretAPI    = "sub-api-Tq81Lm44Zx"    // secret "sub_api"
	subSecretOwn    = "sub-own-Hv27Cw90Pd"    // secret "sub_own", the child's own
	subSecretSealed = "sub-sealed-Kd53Xe19Ru" // the parent's input _secrets.k
	subSecretMasked = "sub-masked-Yb66Fn08Wa" // the parent's input pw (maskedFields)
)

var subSecretValues = []string{subSecretAPI, subSecretOwn, subSecretSealed, subSecretMasked}

// subSecretParent hands its child values through each door; workflowInput
// (the task's inputParameters, SubWorkflowTaskMapper's workflowInput) is
// given.
const subSecretParent = `{"name":"sub_secret_parent","version":1,"schemaVersion":2,"maskedFields":["pw"],"tasks":[
  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
   "inputParameters":{"tok":"${workflow.secrets.sub_api}","hdr":"Bearer ${workflow.secrets.sub_api}",
     "fromSealed":"${workflow.input._secrets.k}","fromMasked":"${workflow.input.pw}",
     "_secrets":{"s":"${workflow.secrets.sub_api}","k":"${workflow.input._secrets.k}"}},
   "subWorkflowParam":{"name":"sub_secret_child","version":1}}],
  "outputParameters":{"childTok":"${sub.output.tok}"}}`

// subSecretChild waits for an approval, then hands what it was given to
// its worker "use", with its own secret.
const subSecretChild = `{"name":"sub_secret_child","version":1,"schemaVersion":2,"tasks":[
  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
  {"name":"use","taskReferenceName":"use","inputParameters":{"tok":"${workflow.input.tok}","hdr":"${workflow.input.hdr}",
    "fromSealed":"${workflow.input.fromSealed}","fromMasked":"${workflow.input.fromMasked}",
    "s":"${workflow.input._secrets.s}","k":"${workflow.input._secrets.k}","own":"${workflow.secrets.sub_own}"}}],
  "outputParameters":{"tok":"${workflow.input.tok}"}}`

// subSecretWant is what the child's worker must get: the values, as
// Conductor's SubWorkflow.start hands them.
const subSecretWant = `{"tok":"` + subSecretAPI + `","hdr":"Bearer ` + subSecretAPI + `","fromSealed":"` + subSecretSealed +
	`","fromMasked":"` + subSecretMasked + `","s":"` + subSecretAPI + `","k":"` + subSecretSealed + `","own":"` + subSecretOwn + `"}`

const subSecretInput = `{"_secrets":{"k":"` + subSecretSealed + `"},"pw":"` + subSecretMasked + `"}`

// subSecretBackend is one run store (memory, bolt, a real redis-server)
// and a way to read every byte it holds.
type subSecretBackend struct {
	runs   runstore.Store
	rig    *rig // bolt and redis
	engine func(t *testing.T, onEvent func(engine.Event), opts ...engine.Option) *engine.Engine
	bytes  func(t *testing.T) map[string][]byte
}

func newSubSecretBackend(t *testing.T, name string, defsDir string) *subSecretBackend {
	t.Helper()
	ring := keyring(t, 12)
	secrets := engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"sub_api": json.RawMessage(`"` + subSecretAPI + `"`), "sub_own": json.RawMessage(`"` + subSecretOwn + `"`)}
	})
	b := &subSecretBackend{}
	if name == "memory" {
		mem := runstore.NewMemory()
		b.runs = mem
		b.engine = func(t *testing.T, onEvent func(engine.Event), opts ...engine.Option) *engine.Engine {
			t.Helper()
			e, err := engine.New(append([]engine.Option{engine.WithRunStore(mem), engine.WithKeyring(ring), secrets,
				engine.WithRegistry(rotationRegistry(false)), engine.WithDefinitionsDir(defsDir),
				engine.WithEvents(func(ev engine.Event) {
					if onEvent != nil {
						onEvent(ev)
					}
				})}, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		b.bytes = func(*testing.T) map[string][]byte { return map[string][]byte{"memory store": storedBytes(mem)} }
		return b
	}
	g := newRig(t, name, 2)
	b.rig, b.runs = g, g.runs
	b.engine = func(t *testing.T, onEvent func(engine.Event), opts ...engine.Option) *engine.Engine {
		t.Helper()
		return g.boundaryEngine(t, ring, onEvent, append([]engine.Option{secrets, engine.WithDefinitionsDir(defsDir)}, opts...)...)
	}
	b.bytes = g.raw
	return b
}

// storedBytes is every string and byte slice a memory run store holds
// (runs, archived runs, signals, leases, task logs, records), read through
// reflection so that no member is left out.
func storedBytes(m *runstore.Memory) []byte {
	var out bytes.Buffer
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem())
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				walk(it.Key())
				walk(it.Value())
			}
		case reflect.Slice, reflect.Array:
			if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
				out.Write(v.Bytes())
				out.WriteByte('\n')
				return
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.String:
			out.WriteString(v.String())
			out.WriteByte('\n')
		}
	}
	walk(reflect.ValueOf(m))
	return out.Bytes()
}

// noValueStored fails when a stored byte (or a view of a run) holds one
// of the values, in clear or an encoded form.
func (b *subSecretBackend) noValueStored(t *testing.T, when string, e *engine.Engine) {
	t.Helper()
	where := b.bytes(t)
	ctx := context.Background()
	sums, err := b.runs.List(ctx, runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) == 0 {
		t.Fatalf("%s: no run stored", when)
	}
	for _, s := range sums {
		doc, _, err := b.runs.Load(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		where["run "+s.ID] = doc
		if where["show "+s.ID], err = e.Show(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range where {
		for _, v := range subSecretValues {
			for _, f := range leakForms(v) {
				if bytes.Contains(text, []byte(f)) {
					t.Errorf("%s: %s holds a value (form %.8s…)", when, name, f)
				}
			}
		}
	}
}

// subSecretDefs writes the definitions into a directory of their own.
func subSecretDefs(t *testing.T, defs ...string) string {
	t.Helper()
	dir := t.TempDir()
	writeDefs(t, dir, defs...)
	return dir
}

// childOf is the id of the child the parent's task at ref names.
func childOf(t *testing.T, runs runstore.Store, parent, ref string) string {
	t.Helper()
	doc, _, err := runs.Load(context.Background(), parent)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Tasks []struct {
			Ref           string `json:"referenceTaskName"`
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, tk := range d.Tasks {
		if tk.Ref == ref && tk.SubWorkflowID != "" {
			id = tk.SubWorkflowID
		}
	}
	if id == "" {
		t.Fatalf("the parent's %s names no child", ref)
	}
	return id
}

// TestSubWorkflowChildGetsTheValuesItsParentResolved: a SUB_WORKFLOW
// child is handed the values its parent's task resolved — a secret (whole
// and within text), a leaf of the parent's sealed `_secrets` input, a
// maskedFields value of its input, a `_secrets` subtree — as Conductor's
// SubWorkflow.start hands the task's workflowInput, and its worker gets
// them (they reached it as "***", but for the `_secrets` subtree). The
// child's stored input stays the parent's references and masked values,
// its `_secrets` sealed; no stored byte (memory, bolt, a real
// redis-server) nor any view holds a value, while the child waits and
// after; the values survive the process's end (the child resumed from its
// sealed input by another process) and the child reads its own secret.
func TestSubWorkflowChildGetsTheValuesItsParentResolved(t *testing.T) {
	for _, backend := range []string{"memory", "bolt", "redis"} {
		t.Run(backend, func(t *testing.T) {
			b := newSubSecretBackend(t, backend, subSecretDefs(t, subSecretChild))
			var mu sync.Mutex
			var got []string
			use := engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
				mu.Lock()
				got = append(got, string(in))
				mu.Unlock()
				return json.RawMessage(`{}`), nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a := b.engine(t, func(ev engine.Event) {
				if ev.Kind == engine.EventWaiting {
					cancel() // the process ends while the child waits
				}
			}, use)
			d, err := a.Parse([]byte(subSecretParent))
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Start(ctx, d, json.RawMessage(subSecretInput))
			if !errors.Is(err, engine.ErrInterrupted) {
				t.Fatalf("want an interrupted run, got %v %+v", err, res)
			}
			b.noValueStored(t, "while the child waits", a)
			childID := childOf(t, b.runs, res.RunID, "sub")
			raw, _, err := b.runs.Load(context.Background(), childID)
			if err != nil {
				t.Fatal(err)
			}
			var child struct {
				Input map[string]any `json:"input"`
			}
			if err := json.Unmarshal(raw, &child); err != nil {
				t.Fatal(err)
			}
			sealed, _ := child.Input["_secrets"].(string)
			if child.Input["tok"] != "${workflow.secrets.sub_api}" || child.Input["hdr"] != "Bearer ${workflow.secrets.sub_api}" ||
				child.Input["fromSealed"] != "***" || child.Input["fromMasked"] != "***" || !strings.HasPrefix(sealed, "wfrun-sealed:") {
				t.Fatalf("the child's stored input %v", child.Input)
			}

			// Another process completes the approval and resumes the
			// parent, which takes its child over from the store.
			e := b.engine(t, nil, use)
			if _, err := e.CompleteTask(context.Background(), childID, "approve", "", nil); err != nil {
				t.Fatal(err)
			}
			res, err = e.Resume(context.Background(), res.RunID)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("use ran %d times", len(got))
			}
			jsonEq(t, json.RawMessage(got[0]), subSecretWant)
			// The child's output and the parent's: masked.
			jsonEq(t, res.Output, `{"childTok":"***"}`)
			b.noValueStored(t, "after the run", e)
		})
	}
}

// TestSubWorkflowChildResumedOnItsOwnKeepsTheValues: a child whose
// process ended while it waited, resumed by itself (its parent not
// loaded: its masker restored from its own journal), still hands its
// worker the values its parent resolved, and stores none of them.
func TestSubWorkflowChildResumedOnItsOwnKeepsTheValues(t *testing.T) {
	b := newSubSecretBackend(t, "bolt", subSecretDefs(t, subSecretChild))
	var got string
	use := engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		got = string(in)
		return json.RawMessage(`{"echo":` + string(in) + `}`), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := b.engine(t, func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			cancel()
		}
	}, use)
	d, err := a.Parse([]byte(subSecretParent))
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Start(ctx, d, json.RawMessage(subSecretInput))
	if !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v %+v", err, res)
	}
	childID := childOf(t, b.runs, res.RunID, "sub")
	e := b.engine(t, nil, use)
	if _, err := e.CompleteTask(context.Background(), childID, "approve", "", nil); err != nil {
		t.Fatal(err)
	}
	cres, err := e.Resume(context.Background(), childID)
	if err != nil || cres.Status != engine.StatusCompleted {
		t.Fatalf("resume of the child: %v %+v", err, cres)
	}
	jsonEq(t, json.RawMessage(got), subSecretWant)
	b.noValueStored(t, "after the child's resume", e)
}

// TestSubWorkflowRetryAndRerunHandTheValuesAgain: a SUB_WORKFLOW task
// retried by its retry policy, a retry of its run and a rerun from it
// each start a new child, handed the values its parent resolved, as the
// first child was; none is stored. (A run whose own input had `_secrets`
// or maskedFields values is not retried once archived: archiving made
// them "***" for good; the second run's input has none.)
func TestSubWorkflowRetryAndRerunHandTheValuesAgain(t *testing.T) {
	child := `{"name":"sub_secret_flaky","version":1,"schemaVersion":2,"tasks":[
	  {"name":"use","taskReferenceName":"use","retryCount":0,"inputParameters":{"tok":"${workflow.input.tok}","hdr":"${workflow.input.hdr}",
	    "fromSealed":"${workflow.input.fromSealed}","fromMasked":"${workflow.input.fromMasked}",
	    "s":"${workflow.input._secrets.s}","k":"${workflow.input._secrets.k}","own":"${workflow.secrets.sub_own}"}}]}`
	parent := strings.Replace(strings.Replace(subSecretParent, `"name":"sub_secret_child"`, `"name":"sub_secret_flaky"`, 1),
		`"type":"SUB_WORKFLOW",`, `"type":"SUB_WORKFLOW","retryCount":1,"taskDefinition":{"retryDelaySeconds":0},`, 1)
	refsOnly := `{"name":"sub_secret_refs","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
	   "inputParameters":{"tok":"${workflow.secrets.sub_api}","hdr":"Bearer ${workflow.secrets.sub_api}","_secrets":{"s":"${workflow.secrets.sub_api}"}},
	   "subWorkflowParam":{"name":"sub_secret_flaky","version":1}}]}`
	// The parents are in the definitions directory: the `_secrets`
	// member of their definitions, "***" in their archives, is read
	// there by a retry.
	b := newSubSecretBackend(t, "memory", subSecretDefs(t, child, parent, refsOnly))
	var mu sync.Mutex
	var got []string
	fail := map[int]bool{0: true} // the first attempt
	e := b.engine(t, nil, engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		n := len(got)
		got = append(got, string(in))
		if fail[n] {
			return nil, errors.New("use failed")
		}
		return json.RawMessage(`{}`), nil
	}))
	d, err := e.Parse([]byte(parent))
	if err != nil {
		t.Fatal(err)
	}
	// Attempt 1 fails, its retry completes.
	res := startRun(t, e, d, subSecretInput)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run: %+v", res)
	}
	// The second run's child fails; a retry of the run starts a new
	// attempt, then a rerun from the task another.
	d, err = e.Parse([]byte(refsOnly))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	fail = map[int]bool{2: true}
	mu.Unlock()
	res = startRun(t, e, d, `{}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("second run: %+v", res)
	}
	rres, err := e.Retry(context.Background(), res.RunID, false)
	if err != nil || rres.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, rres)
	}
	wf := viewRun(t, e, res.RunID)
	rr, err := e.Rerun(context.Background(), res.RunID, wf.Tasks[len(wf.Tasks)-1].TaskID)
	if err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 {
		t.Fatalf("use ran %d times, want 5", len(got))
	}
	refsWant := `{"tok":"` + subSecretAPI + `","hdr":"Bearer ` + subSecretAPI + `","fromSealed":null,"fromMasked":null,"s":"` + subSecretAPI +
		`","k":null,"own":"` + subSecretOwn + `"}`
	for i, in := range got {
		want := subSecretWant
		if i >= 2 {
			want = refsWant
		}
		jsonEq(t, json.RawMessage(in), want)
	}
	b.noValueStored(t, "after the retries and the rerun", e)
}

// TestSubWorkflowHandsOnValuesItWasHanded: a child hands a value its
// parent resolved to its own SUB_WORKFLOW child (a Conductor harness
// definition in the middle, workflow_with_sub_workflow_1_integration_test:
// its task forwards param1 and param2 of its input), whose worker gets it
// too; the middle run's worker gets it as well.
func TestSubWorkflowHandsOnValuesItWasHanded(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(conductorDir, "workflow_with_sub_workflow_1_integration_test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "middle.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	writeDefs(t, dir, `{"name":"sub_secret_leaf","version":1,"schemaVersion":2,"tasks":[
	  {"name":"leaf","taskReferenceName":"leaf","inputParameters":{"p1":"${workflow.input.param1}","p2":"${workflow.input.param2}"}}]}`)
	be := newSubSecretBackend(t, "memory", dir)
	var mu sync.Mutex
	seen := map[string]string{}
	worker := func(name string) engine.Option {
		return engine.WithWorker(name, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			seen[name] = string(in)
			mu.Unlock()
			return json.RawMessage(`{}`), nil
		})
	}
	e := be.engine(t, nil, worker("leaf"), worker("integration_task_1"))
	d, err := e.Parse([]byte(`{"name":"sub_secret_top","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
	   "inputParameters":{"param1":"${workflow.secrets.sub_api}","param2":"${workflow.input._secrets.k}","subwf":"sub_secret_leaf"},
	   "subWorkflowParam":{"name":"integration_test_wf_with_sub_wf","version":1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{"_secrets":{"k":"`+subSecretSealed+`"}}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	jsonEq(t, json.RawMessage(seen["integration_task_1"]), `{"p1":"`+subSecretAPI+`","p2":"`+subSecretSealed+`","someNullKey":null}`)
	jsonEq(t, json.RawMessage(seen["leaf"]), `{"p1":"`+subSecretAPI+`","p2":"`+subSecretSealed+`"}`)
	be.noValueStored(t, "after the run", e)
}

// TestSubWorkflowWithoutWorkflowInputChildReadsItsOwnSecret: a Conductor
// harness parent whose SUB_WORKFLOW task has no inputParameters
// (test_task_failed_parent_workflow) hands its child the task's whole
// inputData, as SubWorkflow.start does; the child reads its own secret
// as any run does, and stores none.
func TestSubWorkflowWithoutWorkflowInputChildReadsItsOwnSecret(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(conductorDir, "test_task_failed_parent_workflow.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "parent.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	writeDefs(t, dir, `{"name":"test_task_failed_sub_wf","version":1,"schemaVersion":2,"tasks":[
	  {"name":"use","taskReferenceName":"use","inputParameters":{"name":"${workflow.input.subWorkflowName}","wi":"${workflow.input.workflowInput}","own":"${workflow.secrets.sub_own}"}}]}`)
	be := newSubSecretBackend(t, "memory", dir)
	var got string
	e := be.engine(t, nil, engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		got = string(in)
		return json.RawMessage(`{}`), nil
	}))
	d, err := e.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{"lambdaValue":1}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run: %+v", res)
	}
	jsonEq(t, json.RawMessage(got), `{"name":"test_task_failed_sub_wf","wi":{},"own":"`+subSecretOwn+`"}`)
	be.noValueStored(t, "after the run", e)
}
