package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/tasks/worker"
)

// filterTarget answers /token with a fresh token and other data, /fail
// with a 500 whose body holds the token, /plain without a token; it counts
// requests and keeps their bodies.
func filterTarget(t *testing.T, token string) (*httptest.Server, *atomic.Int32, *testkit.SyncBuffer) {
	var hits atomic.Int32
	bodies := &testkit.SyncBuffer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		_, _ = bodies.Write(append(b, '\n'))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			_, _ = io.WriteString(w, `{"token":"`+token+`","account":{"plan":"pro"},"debug":"raw-`+token+`"}`)
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"leaked":"`+token+`"}`)
		default:
			_, _ = io.WriteString(w, `{"account":{"plan":"free"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits, bodies
}

// A Conductor server (OSS) does not know Orkes' outputFilter: it hands the
// filter over among the task's input and stores whatever the worker
// answers. The worker applies the filter, compiled from the poll's
// workflowTask: only what it selects is answered, what it puts under
// `_secrets` is not sent at all, and the fresh token — which no masker
// knew — reaches the server nowhere, on success or failure.
func TestWorkerAppliesOutputFilter(t *testing.T) {
	const token = "fresh-token-Qm83Lw27Xc"
	target, hits, bodies := filterTarget(t, token)
	filter := `{"_secrets":{"token":"$${call.output.response.body.token}"},"plan":"$${call.output.response.body.account.plan}","status":"$${call.output.response.statusCode}","run":"${workflow.workflowId}"}`
	// The input as a Conductor server hands it: expressions it resolved,
	// the filter's escapes undone, the key still there.
	polledFilter := strings.ReplaceAll(filter, "$${", "${")
	task := func(id, path string) string {
		def := `{"uri":"` + target.URL + path + `","method":"POST","body":{"grant":"client"},"outputFilter":` + filter + `}`
		in := `{"uri":"` + target.URL + path + `","method":"POST","body":{"grant":"client"},"outputFilter":` + polledFilter + `}`
		return `{"taskId":"` + id + `","workflowInstanceId":"wf-` + id + `","taskDefName":"wfrun_http","referenceTaskName":"call",` +
			`"inputData":` + in + `,"workflowTask":{"name":"wfrun_http","taskReferenceName":"call","inputParameters":` + def + `}}`
	}
	results, logs := pollOnceWith(t, nil, map[string]string{"wfrun_http": "HTTP"}, "unused-value-0000",
		task("ok", "/token"), task("missing", "/plain"), task("fail", "/fail"))

	ok := results["ok"]
	if ok["status"] != "COMPLETED" {
		t.Fatalf("ok: %v", ok)
	}
	out, _ := json.Marshal(ok["outputData"])
	if string(out) != `{"plan":"pro","run":"wf-ok","status":200}` {
		t.Errorf("ok: output %s", out)
	}
	miss := results["missing"]
	if miss["status"] != "FAILED" || miss["reasonForIncompletion"] != "outputFilter of task call: /_secrets/token resolved to null: the task's output has no such value" {
		t.Errorf("missing: %v", miss)
	}
	if out, _ := json.Marshal(miss["outputData"]); string(out) != `{}` {
		t.Errorf("missing: output %s", out)
	}
	fail := results["fail"]
	if fail["status"] != "FAILED" || !strings.Contains(fail["reasonForIncompletion"].(string), "details withheld") {
		t.Errorf("fail: %v", fail)
	}
	all, _ := json.Marshal(results)
	for what, text := range map[string]string{"answers": string(all), "worker log": logs} {
		if strings.Contains(text, token) || strings.Contains(text, token[6:14]) || strings.Contains(text, `"_secrets":`) {
			t.Errorf("%s hold the token or its _secrets: %s", what, text)
		}
	}
	// The filter is the worker's: the target never saw it.
	if hits.Load() != 3 || strings.Contains(bodies.String(), "outputFilter") || strings.Contains(bodies.String(), "call.output") {
		t.Errorf("target: %d requests, bodies %q", hits.Load(), bodies.String())
	}
}

// A filter the worker cannot apply refuses the task before it runs (the
// target is never called): its whole output would reach the server.
func TestWorkerRefusesAFilterItCannotApply(t *testing.T) {
	const token = "fresh-token-Vb61Rp40Ns"
	target, hits, _ := filterTarget(t, token)
	req := `"uri":"` + target.URL + `/token","method":"GET"`
	f := `{"t":"$${call.output.response.body.token}"}`
	polledF := `{"t":"${call.output.response.body.token}"}`
	results := pollOnce(t, map[string]string{"wfrun_http": "HTTP"}, "unused-value-0000",
		// No workflowTask: the filter cannot be read from the definition.
		`{"taskId":"nodef","workflowInstanceId":"w","taskDefName":"wfrun_http","referenceTaskName":"call","inputData":{`+req+`,"outputFilter":`+polledF+`}}`,
		// The definition has none where the input has one.
		`{"taskId":"notindef","workflowInstanceId":"w","taskDefName":"wfrun_http","referenceTaskName":"call","inputData":{`+req+`,"outputFilter":`+polledF+`},"workflowTask":{"taskReferenceName":"call","inputParameters":{`+req+`}}}`,
		// Another task's output: the worker knows only this task.
		`{"taskId":"other","workflowInstanceId":"w","taskDefName":"wfrun_http","referenceTaskName":"call","inputData":{`+req+`,"outputFilter":{"t":"x"}},"workflowTask":{"taskReferenceName":"call","inputParameters":{`+req+`,"outputFilter":{"t":"$${prev.output.x}"}}}}`,
		// Inside http_request, where it would be ignored.
		`{"taskId":"nested","workflowInstanceId":"w","taskDefName":"wfrun_http","referenceTaskName":"call","inputData":{"http_request":{`+req+`,"outputFilter":`+polledF+`}},"workflowTask":{"taskReferenceName":"call","inputParameters":{"http_request":{`+req+`,"outputFilter":`+f+`}}}}`,
		// Not an object.
		`{"taskId":"notobj","workflowInstanceId":"w","taskDefName":"wfrun_http","referenceTaskName":"call","inputData":{`+req+`,"outputFilter":5},"workflowTask":{"taskReferenceName":"call","inputParameters":{`+req+`,"outputFilter":5}}}`)
	for id, want := range map[string]string{
		"nodef":    "inputData.outputFilter: the poll carries no workflowTask",
		"notindef": "inputData.outputFilter: the task definition the poll carries has no filter there",
		"other":    `workflowTask.inputParameters.outputFilter reads task "prev": a worker knows only the task it runs`,
		"nested":   "workflowTask.inputParameters.http_request.outputFilter: outputFilter is read from inputParameters, beside http_request",
		"notobj":   "workflowTask.inputParameters.outputFilter: outputFilter must be a JSON object",
	} {
		res := results[id]
		if res["status"] != "FAILED_WITH_TERMINAL_ERROR" || !strings.Contains(res["reasonForIncompletion"].(string), want) {
			t.Errorf("%s: %v, want %q", id, res, want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the target was called %d times", n)
	}
}

// wfrun serve applies a filter itself, to a worker's answer as to its own
// tasks, and hands the task over without it: the worker leaves the filter
// to the server (a second pass would filter a filtered output), and the
// run completes with the filtered output, the token stored nowhere.
func TestWorkerLeavesServeItsOutputFilter(t *testing.T) {
	const token = "fresh-token-Hd92Kc15Ty"
	target, _, _ := filterTarget(t, token)
	sv := serveForWorkers(t)
	workerLogs := &testkit.SyncBuffer{}
	w, err := worker.New(worker.Config{Server: sv.URL, Tasks: map[string]string{"wfrun_http": "HTTP"},
		Secrets:     store.NewRunView(secretsHolding(t, nil), store.LocalPrincipal, "", ""),
		PollTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(workerLogs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	def := `{"name":"filtered_remote","version":1,"schemaVersion":2,"tasks":[
	  {"name":"wfrun_http","taskReferenceName":"call","type":"SIMPLE","inputParameters":{
	    "uri":"` + target.URL + `/token","method":"GET",
	    "outputFilter":{"_secrets":{"token":"$${call.output.response.body.token}"},"plan":"$${call.output.response.body.account.plan}"}}},
	  {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
	    "t":"${call.output._secrets.token}","expression":"$.t.length"}}],
	  "outputParameters":{"plan":"${call.output.plan}","len":"${use.output.result}"}}`
	if st, body := testkit.HTTPCall(t, "POST", sv.URL+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, id := testkit.HTTPCall(t, "POST", sv.URL+"/api/workflow/filtered_remote", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	exec := waitDone(t, sv.URL, id)
	if !strings.Contains(exec, `"status":"COMPLETED"`) || !strings.Contains(exec, `"output":{"len":22,"plan":"pro"}`) {
		t.Fatalf("run: %s\nworker log: %s", exec, workerLogs.String())
	}
	stored, _, err := sv.Runs.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"execution": exec, "stored run": string(stored), "server log": sv.Logs.String(), "worker log": workerLogs.String()} {
		if strings.Contains(text, token) || strings.Contains(text, token[6:14]) {
			t.Errorf("%s holds the token:\n%s", what, text)
		}
	}
}
