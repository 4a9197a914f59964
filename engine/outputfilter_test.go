package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// filterServer answers /token with a body holding a token and other data,
// /empty with a body without a token, /fail with a 500 whose body holds a
// token, and /echo with the given text; it records every request body.
type filterServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	token  string
}

func newFilterServer(t *testing.T, token, echo string) *filterServer {
	fs := &filterServer{token: token}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fs.mu.Lock()
		fs.bodies = append(fs.bodies, string(b)+" "+fmt.Sprint(r.Header))
		fs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			fmt.Fprintf(w, `{"token":%q,"account":{"id":7,"plan":"pro"},"debug":"raw-body-marker-%s"}`, token, token)
		case "/empty":
			fmt.Fprint(w, `{"account":{"id":7}}`)
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"leaked":%q}`, token)
		case "/echo":
			fmt.Fprintf(w, `{"echo":%q}`, echo)
		}
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *filterServer) requests() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return strings.Join(fs.bodies, "\n")
}

const filterDef = `{"name":"filtered","schemaVersion":2,"tasks":[
  {"name":"get","taskReferenceName":"get","type":"HTTP","inputParameters":{
    "uri":"${workflow.input.url}","method":"POST","body":{"q":1},
    "outputFilter":{"_secrets":{"token":"$${get.output.response.body.token}"},
                    "plan":"$${get.output.response.body.account.plan}",
                    "status":"$${get.output.response.statusCode}",
                    "label":"plan=$${get.output.response.body.account.plan} run=${workflow.input.tag}"}}},
  {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{
    "evaluatorType":"javascript","t":"${get.output._secrets.token}","raw":"${get.output.response}",
    "expression":"({len: $.t.length, rawIsNull: $.raw === null})"}}],
 "outputParameters":{"get":"${get.output}","use":"${use.output.result}"}}`

// The filter replaces the output: the next task reads the token from
// _secrets, the raw response is gone, the key never reaches the server, the
// stored input keeps the filter as written (escapes resolved to text).
func TestOutputFilterReplacesOutput(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			g := newRig(t, backend, 10)
			token := "tok-filter-" + randHex(10)
			fs := newFilterServer(t, token, "")
			e := g.engine(t, rotationRegistry(false))
			def, err := e.Parse([]byte(filterDef))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(ctx, def, json.RawMessage(`{"url":"`+fs.URL+`/token","tag":"t1"}`))
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("%v %+v", err, res)
			}
			jsonEq(t, res.Output, `{"get":{"_secrets":"***","plan":"pro","status":200,"label":"plan=pro run=t1"},
			  "use":{"len":`+fmt.Sprint(len(token))+`,"rawIsNull":true}}`)
			if strings.Contains(fs.requests(), "outputFilter") || strings.Contains(fs.requests(), "get.output") {
				t.Fatalf("the filter reached the server: %s", fs.requests())
			}
			view, err := e.Show(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			var run struct {
				Tasks []struct {
					Input map[string]any `json:"inputData"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal(view, &run); err != nil {
				t.Fatal(err)
			}
			f, _ := run.Tasks[0].Input["outputFilter"].(map[string]any)
			if f["plan"] != "${get.output.response.body.account.plan}" || f["label"] != "plan=${get.output.response.body.account.plan} run=t1" || f["_secrets"] != "***" {
				t.Fatalf("stored outputFilter: %v", run.Tasks[0].Input["outputFilter"])
			}
			g.leakCheck(t, e, map[string]string{"output": string(res.Output)}, token, "raw-body-marker")
		})
	}
}

// A filter selecting something the output lacks fails the task (no value in
// the reason, output {}); a failed attempt with a raw body stores nothing
// of it either.
func TestOutputFilterFailures(t *testing.T) {
	ctx := context.Background()
	g := newRig(t, "bolt", 10)
	token := "tok-fail-" + randHex(10)
	fs := newFilterServer(t, token, "")
	e := g.engine(t, rotationRegistry(false))
	def, err := e.Parse([]byte(filterDef))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, def, json.RawMessage(`{"url":"`+fs.URL+`/empty"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusFailed || res.FailedTaskRef != "get" ||
		!strings.Contains(res.Reason, "outputFilter of task get: /_secrets/token resolved to null") {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	view, _ := e.Show(ctx, res.RunID)
	if !strings.Contains(string(view), `"outputData": {}`) && !strings.Contains(string(view), `"outputData":{}`) {
		t.Fatalf("failed filter should store {}: %s", view)
	}

	res, err = e.Start(ctx, def, json.RawMessage(`{"url":"`+fs.URL+`/fail"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "500") {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	// The HTTP task's reason would carry an excerpt of the body: withheld.
	if strings.Contains(res.Reason, token) || !strings.Contains(res.Reason, "HTTP 500") || !strings.Contains(res.Reason, "withheld") {
		t.Fatalf("reason: %s", res.Reason)
	}
	view, _ = e.Show(ctx, res.RunID)
	var run struct {
		Tasks []struct {
			Output json.RawMessage `json:"outputData"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(view, &run); err != nil || len(run.Tasks) != 1 {
		t.Fatalf("%v %s", err, view)
	}
	jsonEq(t, run.Tasks[0].Output, `{}`)
	g.leakCheck(t, e, map[string]string{"reason": res.Reason}, token)
}

// A value from the task's output that looks like an expression is data: it
// is neither resolved nor scanned again, so a server cannot make the filter
// read a secret or another task.
func TestOutputFilterValuesAreData(t *testing.T) {
	ctx := context.Background()
	g := newRig(t, "bolt", 10)
	secret := "filter-secret-" + randHex(8)
	g.put(t, "api", secret)
	fs := newFilterServer(t, "", "${workflow.secrets.api} $${workflow.input.x}")
	e := g.engine(t, rotationRegistry(false))
	def, err := e.Parse([]byte(`{"name":"echo","tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP",
	  "inputParameters":{"uri":"${workflow.input.url}","method":"GET",
	    "outputFilter":{"echo":"$${get.output.response.body.echo}","secretRef":"$${workflow.secrets.api}"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, def, json.RawMessage(`{"url":"`+fs.URL+`/echo","x":"no"}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	jsonEq(t, res.Output, `{"echo":"${workflow.secrets.api} $${workflow.input.x}","secretRef":"${workflow.secrets.api}"}`)
	g.leakCheck(t, e, map[string]string{"output": string(res.Output)}, secret)
}

// Problems in a filter are definition problems with their location.
func TestOutputFilterValidation(t *testing.T) {
	e, err := engine.New(engine.WithRegistry(rotationRegistry(false)))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		`{"x":"$${nope.output.a}"}`: `/tasks/0/inputParameters/outputFilter: reference to unknown task "nope"`,
		`5`:                         `/tasks/0/inputParameters/outputFilter: outputFilter must be a JSON object`,
		`{"x":"$${get.output.a"}`:   `/tasks/0/inputParameters/outputFilter/x: unterminated`,
	}
	if _, err := e.Parse([]byte(`{"name":"v","tasks":[{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"x",
	  "inputParameters":{"x":"a","outputFilter":{"a":"$${s.output.selectedCase}"}},"decisionCases":{"b":[]}}]}`)); err == nil ||
		!strings.Contains(err.Error(), "/tasks/0/inputParameters/outputFilter: outputFilter is not supported on SWITCH tasks") {
		t.Errorf("SWITCH with outputFilter: %v", err)
	}
	tmpl, err := os.ReadFile("../testdata/workflows/rotate_token.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.ParseDefinition(tmpl); err != nil {
		t.Errorf("the rotation template with the default task types: %v", err)
	}
	for filter, want := range cases {
		_, err := e.Parse([]byte(`{"name":"v","tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP",
		  "inputParameters":{"uri":"http://127.0.0.1:1/","method":"GET","outputFilter":` + filter + `}}]}`))
		if !errors.Is(err, engine.ErrInvalidDefinition) || !strings.Contains(err.Error(), want) {
			t.Errorf("filter %s: got %v, want %q", filter, err, want)
		}
	}
}

// An outputFilter written inside http_request would be ignored (it is read
// from inputParameters, as Orkes reads it) and the whole response stored:
// the definition is refused, naming where the filter is and where it
// belongs. A SIMPLE task's http_request is its worker's data, not a request.
func TestOutputFilterInsideHTTPRequestRefused(t *testing.T) {
	e, err := engine.New(engine.WithRegistry(rotationRegistry(false)))
	if err != nil {
		t.Fatal(err)
	}
	filter := `"outputFilter":{"_secrets":{"token":"$${get.output.response.body.token}"}}`
	for typ, extra := range map[string]string{"HTTP": "", "HTTP_POLL": `,"terminationCondition":"true"`} {
		_, err := e.Parse([]byte(`{"name":"v","tasks":[{"name":"get","taskReferenceName":"get","type":"` + typ + `",
		  "inputParameters":{"http_request":{"uri":"http://127.0.0.1:1/","method":"GET"` + extra + `,` + filter + `}}}]}`))
		want := "/tasks/0/inputParameters/http_request/outputFilter: outputFilter is read from inputParameters, beside http_request"
		if !errors.Is(err, engine.ErrInvalidDefinition) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", typ, err, want)
		}
		// Beside http_request it is the task's filter.
		if _, err := e.Parse([]byte(`{"name":"v","tasks":[{"name":"get","taskReferenceName":"get","type":"` + typ + `",
		  "inputParameters":{"http_request":{"uri":"http://127.0.0.1:1/","method":"GET"` + extra + `},` + filter + `}}]}`)); err != nil {
			t.Errorf("%s with the filter beside http_request: %v", typ, err)
		}
		// A null one there is none.
		if _, err := e.Parse([]byte(`{"name":"v","tasks":[{"name":"get","taskReferenceName":"get","type":"` + typ + `",
		  "inputParameters":{"http_request":{"uri":"http://127.0.0.1:1/","method":"GET"` + extra + `,"outputFilter":null}}}]}`)); err != nil {
			t.Errorf("%s with a null outputFilter in http_request: %v", typ, err)
		}
	}
	if _, err := e.Parse([]byte(`{"name":"v","tasks":[{"name":"w","taskReferenceName":"w","type":"SIMPLE",
	  "inputParameters":{"http_request":{"outputFilter":{"a":1}}}}]}`)); err != nil {
		t.Errorf("a SIMPLE task's http_request data: %v", err)
	}
}

// Inside a DO_WHILE the task's own reference reads the current iteration's
// raw output; each iteration stores only its filtered output.
func TestOutputFilterInLoop(t *testing.T) {
	ctx := context.Background()
	g := newRig(t, "bolt", 10)
	token := "tok-loop-" + randHex(8)
	fs := newFilterServer(t, token, "")
	e := g.engine(t, rotationRegistry(false))
	def, err := e.Parse([]byte(`{"name":"loop","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE",
	  "loopCondition":"$.l.iteration < 2","loopOver":[{"name":"get","taskReferenceName":"get","type":"HTTP",
	    "inputParameters":{"uri":"${workflow.input.url}","method":"GET",
	      "outputFilter":{"plan":"$${get.output.response.body.account.plan}","n":"${l.output.iteration}"}}}]}],
	  "outputParameters":{"last":"${get.output}","loop":"${l.output}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, def, json.RawMessage(`{"url":"`+fs.URL+`/token"}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	jsonEq(t, res.Output, `{"last":{"plan":"pro","n":2},"loop":{"iteration":2,"1":{"get":{"plan":"pro","n":1}},"2":{"get":{"plan":"pro","n":2}}}}`)
	g.leakCheck(t, e, map[string]string{"output": string(res.Output)}, token)
}

// BenchmarkOutputFilter: one HTTP task on loopback per run, without and
// with an outputFilter (one template execution, one decode of the result,
// stripping the key from the input), and with a filter that puts the token
// under _secrets (then sealing and masker registration dominate).
func BenchmarkOutputFilter(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token":"tok-bench-0123456789","account":{"id":7,"plan":"pro"},"padding":"`+strings.Repeat("x", 512)+`"}`)
	}))
	defer srv.Close()
	e, err := engine.New(engine.WithRegistry(rotationRegistry(false)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, filter string }{
		{"impl=no-filter", ""},
		{"impl=outputFilter", `,"outputFilter":{"token":"$${get.output.response.body.token}","plan":"$${get.output.response.body.account.plan}"}`},
		// With _secrets the cost of sealing and registering the token is added.
		{"impl=outputFilter-secrets", `,"outputFilter":{"_secrets":{"token":"$${get.output.response.body.token}"},"plan":"$${get.output.response.body.account.plan}"}`},
	} {
		def, err := e.Parse([]byte(`{"name":"b","tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP",
		  "inputParameters":{"uri":"` + srv.URL + `","method":"GET"` + c.filter + `}}]}`))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				res, err := e.Start(context.Background(), def, nil)
				if err != nil || res.Status != engine.StatusCompleted {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}

// An asyncComplete HTTP task waits IN_PROGRESS for its completion with its
// output recorded: with an outputFilter that output is the filter's result,
// never the raw response (the token it selects into _secrets, the rest of
// the body), neither in the stored run nor in its view while it waits; the
// completion's output joins the filtered output.
func TestOutputFilterAsyncCompleteStoresNoRawOutput(t *testing.T) {
	ctx := context.Background()
	g := newRig(t, "bolt", 10)
	token := "tok-async-" + randHex(12)
	fs := newFilterServer(t, token, "")
	e := g.engine(t, rotationRegistry(false))
	def, err := e.Parse([]byte(`{"name":"async_filtered","schemaVersion":2,"tasks":[
	  {"name":"get","taskReferenceName":"get","type":"HTTP","asyncComplete":true,"inputParameters":{
	    "uri":"${workflow.input.url}","method":"GET",
	    "outputFilter":{"_secrets":{"token":"$${get.output.response.body.token}"},"plan":"$${get.output.response.body.account.plan}"}}},
	  {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{
	    "evaluatorType":"javascript","t":"${get.output._secrets.token}","expression":"$.t.length"}}],
	 "outputParameters":{"get":"${get.output}","len":"${use.output.result}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		res *engine.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.Start(ctx, def, json.RawMessage(`{"url":"`+fs.URL+`/token"}`), engine.WithRunID("async-filtered"))
		done <- outcome{res, err}
	}()
	// Waiting: IN_PROGRESS with an output (while its request is in flight
	// the task shows IN_PROGRESS with an empty one).
	var v runView
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, err := e.Show(ctx, "async-filtered")
		if err == nil && json.Unmarshal(b, &v) == nil && len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress && len(v.Tasks[0].Output) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HTTP task is not waiting: %+v", v)
		}
	}
	if v.Tasks[0].Output["response"] != nil || v.Tasks[0].Output["plan"] != "pro" {
		t.Fatalf("waiting output is not the filter's result: %v", v.Tasks[0].Output)
	}
	g.leakCheck(t, e, nil, token, "raw-body-marker")
	if _, err := e.CompleteTask(ctx, "async-filtered", "get", engine.TaskCompleted, json.RawMessage(`{"approved":true}`)); err != nil {
		t.Fatal(err)
	}
	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end")
	}
	if o.err != nil || o.res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", o.err, o.res)
	}
	jsonEq(t, o.res.Output, `{"get":{"_secrets":"***","plan":"pro","approved":true},"len":`+fmt.Sprint(len(token))+`}`)
	g.leakCheck(t, e, map[string]string{"output": string(o.res.Output)}, token, "raw-body-marker")
}

// A filter that builds a path from the task's output (a computed path)
// fails when the value makes no valid key: the reason names the filter
// location, never the value, which is the raw output the filter keeps
// from the store and no masker knows (here the token it was to seal).
func TestOutputFilterComputedPathErrorQuotesNoOutput(t *testing.T) {
	ctx := context.Background()
	g := newRig(t, "bolt", 10)
	// No 4 bytes of it (after "Bearer ") are hex: the reason holds ids.
	token := "Bearer tok-Zq8Xw7Vu6Ts5Rr4Qp3On9Lm2Kj"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"kind":%q,"tokens":{"a":1}}`, token)
	}))
	defer srv.Close()
	e := g.engine(t, rotationRegistry(false))
	def, err := e.Parse([]byte(`{"name":"computed","schemaVersion":2,"tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP",
	  "inputParameters":{"uri":"` + srv.URL + `","method":"GET",
	    "outputFilter":{"_secrets":{"t":"$${get.output.response.body.tokens.$${get.output.response.body.kind}}"}}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "outputFilter of task get: cannot be resolved: ") ||
		!strings.Contains(res.Reason, "/outputFilter/_secrets/t") {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	tail := strings.TrimPrefix(token, "Bearer ")
	for i := 0; i+4 <= len(tail); i++ {
		if strings.Contains(res.Reason, tail[i:i+4]) {
			t.Fatalf("reason quotes %q of the output's token: %s", tail[i:i+4], res.Reason)
		}
	}
	g.leakCheck(t, e, map[string]string{"reason": res.Reason}, tail)
}
