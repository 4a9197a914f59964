package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
)

// The definitions under testdata/orkes are workflow examples from the Orkes
// documentation (orkes-io/docs), unmodified (see SOURCES.md); only the API
// tester host is pointed at a local server.

func loadOrkes(t *testing.T, e *engine.Engine, name, host string) *engine.Definition {
	t.Helper()
	b, err := os.ReadFile("../testdata/orkes/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		b = bytes.ReplaceAll(b, []byte(testerHost), []byte(host))
	}
	d, err := e.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// orkesEngine is a bolt rig's engine (secrets and runs on disk, progress
// lines captured for leakCheck) with the given workers.
func orkesEngine(t *testing.T, g *rig, opts ...engine.Option) *engine.Engine {
	t.Helper()
	e, err := engine.New(append([]engine.Option{
		engine.WithRegistry(rotationRegistry(false)),
		engine.WithRunStore(g.runs),
		engine.WithPollInterval(10 * time.Millisecond),
		engine.WithSecrets(func(p engine.Principal, project, env string) interpolate.SecretSource {
			return store.NewRunView(g.secrets, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, env)
		}),
		engine.WithEvents(func(ev engine.Event) {
			g.mu.Lock()
			defer g.mu.Unlock()
			fmt.Fprintf(&g.events, "%s %s %s %s %s: %s\n", ev.Kind, ev.RunID, ev.TaskRef, ev.TaskType, ev.Status, ev.Reason)
		}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// runTask is one task of a run's display form.
type runTask struct {
	Ref    string          `json:"referenceTaskName"`
	Status string          `json:"status"`
	Input  json.RawMessage `json:"inputData"`
	Output json.RawMessage `json:"outputData"`
}

type runDoc struct {
	Status string          `json:"status"`
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output"`
	Tasks  []runTask       `json:"tasks"`
}

func showRun(t *testing.T, e *engine.Engine, id string) (runDoc, []byte) {
	t.Helper()
	view, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var d runDoc
	if err := json.Unmarshal(view, &d); err != nil {
		t.Fatal(err)
	}
	return d, view
}

func (d runDoc) task(t *testing.T, ref string) runTask {
	t.Helper()
	for _, tk := range d.Tasks {
		if tk.Ref == ref {
			return tk
		}
	}
	t.Fatalf("no task %s in the run", ref)
	return runTask{}
}

// inline.mdx: "In this example workflow, the Inline task is used to reverse
// a string based on the user input." outputParameters is {}, so (as in
// Conductor) the workflow output is the last task's output.
func TestOrkesInlineStringReverser(t *testing.T) {
	e := conductorEngine(t)
	res := start(t, e, loadOrkes(t, e, "string_reverser.json", ""), `{"in_str":"Conductor"}`)
	jsonEq(t, res.Output, `{"result":"rotcudnoC"}`)
	d, _ := showRun(t, e, res.RunID)
	jsonEq(t, d.task(t, "string_reverser_ref").Output, `{"result":"rotcudnoC"}`)
}

// masking-parameters.mdx, "Using _secrets parameter": the worker gets the
// value; the execution shows it masked in the task input and the workflow
// input.
func TestOrkesSecretsParam(t *testing.T) {
	g := newRig(t, "bolt", 2)
	value := "somedata-" + randHex(12)
	var got json.RawMessage
	e := orkesEngine(t, g, engine.WithWorker("simple", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		got = append(json.RawMessage(nil), in...)
		return json.RawMessage(`{"done":true}`), nil
	}))
	in, _ := json.Marshal(map[string]string{"somedata": value})
	res := start(t, e, loadOrkes(t, e, "workflow_with_secrets_param.json", ""), string(in))
	if !bytes.Contains(got, []byte(value)) {
		t.Fatal("the worker did not receive the _secrets value")
	}
	jsonEq(t, got, fmt.Sprintf(`{"_secrets":%q}`, value))
	d, _ := showRun(t, e, res.RunID)
	jsonEq(t, d.task(t, "simple_ref").Input, `{"_secrets":"***"}`)
	jsonEq(t, d.Input, `{"somedata":"***"}`)
	jsonEq(t, res.Output, `{"done":true}`)
	g.leakCheck(t, e, nil, value)
}

// masking-parameters.mdx, "Using _masked parameter": shown as "***" in the
// execution; unlike _secrets it is retained in the stored run (restarts can
// use it), so only the display form is checked.
func TestOrkesMaskedParam(t *testing.T) {
	g := newRig(t, "bolt", 2)
	value := "maskeddata-" + randHex(12)
	var got json.RawMessage
	e := orkesEngine(t, g, engine.WithWorker("simple", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		got = append(json.RawMessage(nil), in...)
		return json.RawMessage(`{"done":true}`), nil
	}))
	in, _ := json.Marshal(map[string]string{"somedata": value})
	res := start(t, e, loadOrkes(t, e, "workflow_with_masked_param.json", ""), string(in))
	jsonEq(t, got, fmt.Sprintf(`{"_masked":%q}`, value))
	d, view := showRun(t, e, res.RunID)
	jsonEq(t, d.task(t, "simple_ref").Input, `{"_masked":"***"}`)
	jsonEq(t, d.Input, `{"somedata":"***"}`)
	if bytes.Contains(view, []byte(value)) {
		t.Errorf("the execution view shows the _masked value: %s", view)
	}
}

// masking-parameters.mdx, "Using maskedFields parameter": input1 and input2
// appear as "***" in the workflow input; output1 is the HTTP task's output.
func TestOrkesMaskedFields(t *testing.T) {
	ts := newTester(t)
	g := newRig(t, "bolt", 2)
	e := orkesEngine(t, g)
	v1, v2 := "input-one-"+randHex(8), "input-two-"+randHex(8)
	in, _ := json.Marshal(map[string]string{"input1": v1, "input2": v2})
	res := start(t, e, loadOrkes(t, e, "new_masking_param.json", ts.srv.URL), string(in))
	var out struct {
		Output1 struct {
			Response struct {
				StatusCode int            `json:"statusCode"`
				Body       map[string]any `json:"body"`
			} `json:"response"`
		} `json:"output1"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil || out.Output1.Response.StatusCode != 200 || out.Output1.Response.Body["method"] != "GET" {
		t.Fatalf("output %s", res.Output)
	}
	d, _ := showRun(t, e, res.RunID)
	jsonEq(t, d.Input, `{"input1":"***","input2":"***"}`)
	g.leakCheck(t, e, nil, v1, v2)
}

// masking-parameters.mdx, "Passing sensitive data between tasks": the second
// task gets simple_demo_ref.output.result under _secrets, and the value is
// masked in the execution results.
func TestOrkesPassSensitiveData(t *testing.T) {
	g := newRig(t, "bolt", 2)
	value := "sensitive-" + randHex(12)
	var got json.RawMessage
	e := orkesEngine(t, g,
		engine.WithWorker("simple-demo", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.Marshal(map[string]string{"result": value})
		}),
		engine.WithWorker("simple", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			got = append(json.RawMessage(nil), in...)
			return json.RawMessage(`{"done":true}`), nil
		}))
	res := start(t, e, loadOrkes(t, e, "workflow_pass_sensitive_data.json", ""), `{}`)
	jsonEq(t, got, fmt.Sprintf(`{"_secrets":{"parameter":%q}}`, value))
	d, _ := showRun(t, e, res.RunID)
	jsonEq(t, d.task(t, "simple_ref").Input, `{"_secrets":"***"}`)
	jsonEq(t, d.task(t, "simple_demo_ref").Output, `{"result":"***"}`)
	jsonEq(t, res.Output, `{"done":true}`)
	g.leakCheck(t, e, nil, value)
}

// masking-parameters.mdx, "Masking secret references in workflow
// definitions": the HTTP task sends "Bearer <payment_api_token>" and the
// body built from the input; the token is in no stored or shown form.
func TestOrkesChargeCustomerSecret(t *testing.T) {
	var mu sync.Mutex
	var auth, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		auth, body = r.Header.Get("Authorization"), string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"charged":true}`))
	}))
	t.Cleanup(srv.Close)
	g := newRig(t, "bolt", 2)
	token := "payment-token-" + randHex(12)
	g.put(t, "payment_api_token", token)
	e := orkesEngine(t, g)
	res := start(t, e, loadOrkes(t, e, "charge_customer.json", srv.URL), `{"customerId":"cust-42","amount":1250}`)
	mu.Lock()
	if auth != "Bearer "+token {
		t.Errorf("the server got another Authorization header")
	}
	jsonEq(t, json.RawMessage(body), `{"customerId":"cust-42","amount":1250,"currency":"USD"}`)
	mu.Unlock()
	d, _ := showRun(t, e, res.RunID)
	tk := d.task(t, "charge_payment_ref")
	var o struct {
		Response struct {
			StatusCode int            `json:"statusCode"`
			Body       map[string]any `json:"body"`
		} `json:"response"`
	}
	if err := json.Unmarshal(tk.Output, &o); err != nil || o.Response.StatusCode != 200 || o.Response.Body["charged"] != true {
		t.Fatalf("task output %s", tk.Output)
	}
	g.leakCheck(t, e, nil, token)
}

// set-variable.mdx, "Using the Set Variable task in a workflow": the user name
// is stored as a variable and both later tasks get it from
// ${workflow.variables.name}. There are no outputParameters, so the workflow
// output is the last task's output.
func TestOrkesSetVariableWelcomeUser(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	worker := func(name string) engine.Option {
		return engine.WithWorker(name, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			got[name] = string(in)
			mu.Unlock()
			return json.Marshal(map[string]string{"sent": name})
		})
	}
	e := conductorEngine(t, worker("greet_user"), worker("send_reminder_email"))
	res := start(t, e, loadOrkes(t, e, "welcome_user_workflow.json", ""), `{"userName":"Ada"}`)
	for _, n := range []string{"greet_user", "send_reminder_email"} {
		jsonEq(t, json.RawMessage(got[n]), `{"var_name":"Ada"}`)
	}
	jsonEq(t, res.Output, `{"sent":"send_reminder_email"}`)
	view, err := e.Show(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Variables json.RawMessage `json:"variables"`
	}
	if err := json.Unmarshal(view, &d); err != nil {
		t.Fatal(err)
	}
	jsonEq(t, d.Variables, `{"name":"Ada"}`)
}

// doWhileOutput returns the DO_WHILE task's output and how many HTTP calls the
// tester saw.
func doWhileOutput(t *testing.T, e *engine.Engine, res *engine.Result) map[string]any {
	t.Helper()
	d, _ := showRun(t, e, res.RunID)
	var out map[string]any
	if err := json.Unmarshal(d.task(t, "do_while_ref").Output, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// do-while.mdx, "Iterate over a list of items": three iterations, the HTTP
// task gets someInput a, then b, then c; the loop output shows iteration 3
// and item "c".
func TestOrkesDoWhileItems(t *testing.T) {
	ts := newTester(t)
	e := conductorEngine(t)
	res := start(t, e, loadOrkes(t, e, "do_while_items_demo.json", ts.srv.URL), `{}`)
	want := []string{`{"someInput":"a"}`, `{"someInput":"b"}`, `{"someInput":"c"}`}
	if len(ts.bodies) != len(want) {
		t.Fatalf("server saw %d calls: %q", len(ts.bodies), ts.bodies)
	}
	for i, w := range want {
		jsonEq(t, json.RawMessage(ts.bodies[i]), w)
	}
	out := doWhileOutput(t, e, res)
	if out["iteration"] != 3.0 || out["item"] != "c" || out["1"] == nil || out["3"] == nil {
		t.Fatalf("DO_WHILE output %v", out)
	}
}

// do-while.mdx, "Using console logging in a Do While loop condition": with
// qty 3 the HTTP task runs three times: console.log works (silently) and the
// loop's own inputParameters are resolved again before each condition.
func TestOrkesDoWhileConsoleLog(t *testing.T) {
	ts := newTester(t)
	e := conductorEngine(t)
	res, err := e.Start(context.Background(), loadOrkes(t, e, "do_while_console_log_demo.json", ts.srv.URL), json.RawMessage(`{"qty":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	if len(ts.bodies) != 3 {
		t.Fatalf("server saw %d calls, want 3", len(ts.bodies))
	}
	if out := doWhileOutput(t, e, res); out["iteration"] != 3.0 {
		t.Fatalf("DO_WHILE output %v", out)
	}
}
