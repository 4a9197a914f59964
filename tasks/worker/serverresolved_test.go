package worker_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// TestWorkerMasksServerResolvedSecrets: a Conductor server resolves
// `${workflow.secrets.NAME}` before the poll (Orkes, Conductor OSS, wfrun
// serve), so the polled input holds the value where the task's definition
// (the poll's workflowTask) holds the reference. The worker treats that
// text as a secret: the HTTP target's echo of a header goes back masked,
// whole string or embedded in text, and an EXEC command that prints a
// value it got in its environment is masked in the worker's log and in
// what it posts. An EXEC whose command line holds such a reference is
// refused (a command line is readable by every user of the host), with
// nothing of the value in its answer.
func TestWorkerMasksServerResolvedSecrets(t *testing.T) {
	const srv = "srv-resolved-VALUE-31d9"
	const srv2 = "second-srv-VALUE-8a2f"
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization"), "key": r.Header.Get("X-Key")})
	}))
	defer target.Close()

	httpTpl := `{"http_request":{"uri":"` + target.URL + `","method":"GET","headers":{"Authorization":"Bearer ${workflow.secrets.srv}","X-Key":"${workflow.input.n}:${workflow.secrets['srv2']}"}}}`
	httpIn := `{"http_request":{"uri":"` + target.URL + `","method":"GET","headers":{"Authorization":"Bearer ` + srv + `","X-Key":"7:` + srv2 + `"}}}`
	argvTpl := `{"command":["sh","-c","echo token=${workflow.secrets.srv}"]}`
	argvIn := `{"command":["sh","-c","echo token=` + srv + `"]}`
	envTpl := `{"command":["sh","-c","echo token=$T >&2; echo out=$T"],"env":{"T":"${workflow.secrets.srv}"}}`
	envIn := `{"command":["sh","-c","echo token=$T >&2; echo out=$T"],"env":{"T":"` + srv + `"}}`
	reg := tasks.NewDefaultRegistry()
	tasks.RegisterExec(reg)
	results, logs := pollOnceWith(t, reg, map[string]string{"h": tasks.TypeHTTP, "x": tasks.TypeExec}, "unused-value",
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":`+httpIn+`,"workflowTask":{"inputParameters":`+httpTpl+`}}`,
		`{"taskId":"t2","workflowInstanceId":"w2","taskDefName":"x","inputData":`+argvIn+`,"workflowTask":{"inputParameters":`+argvTpl+`}}`,
		`{"taskId":"t3","workflowInstanceId":"w3","taskDefName":"x","inputData":`+envIn+`,"workflowTask":{"inputParameters":`+envTpl+`}}`)
	want := map[string]string{"t1": "COMPLETED", "t2": "FAILED_WITH_TERMINAL_ERROR", "t3": "COMPLETED"}
	for id, res := range results {
		b, _ := json.Marshal(res)
		if res["status"] != want[id] || strings.Contains(string(b), srv) || strings.Contains(string(b), srv2) {
			t.Errorf("%s posted: %s", id, b)
		}
	}
	if b, _ := json.Marshal(results["t1"]); !strings.Contains(string(b), `"auth":"Bearer ***"`) || !strings.Contains(string(b), `"key":"7:***"`) {
		t.Errorf("t1 posted: %s", b)
	}
	if reason, _ := results["t2"]["reasonForIncompletion"].(string); !strings.Contains(reason, "command") {
		t.Errorf("t2 reason: %q", reason)
	}
	if b, _ := json.Marshal(results["t3"]); !strings.Contains(string(b), `out=***`) {
		t.Errorf("t3 posted: %s", b)
	}
	if strings.Contains(logs, srv) || strings.Contains(logs, srv2) || !strings.Contains(logs, "token=***") {
		t.Errorf("worker log:\n%s", logs)
	}
}

// TestWorkerWarnsOfShortSecrets: a secret value too short to be masked
// (under 4 bytes) that a task resolves goes back as the task gives it; the
// worker's log says so, as a run's log does, naming the length and never
// the value.
func TestWorkerWarnsOfShortSecrets(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	defer target.Close()
	in := `{"http_request":{"uri":"` + target.URL + `","method":"GET","headers":{"X-Pin":"$<workflow.secrets.x>"}}}`
	results, logs := pollOnceWith(t, nil, map[string]string{"h": tasks.TypeHTTP}, "q7z",
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":`+in+`,"workflowTask":{"inputParameters":`+in+`}}`)
	if results["t1"]["status"] != "COMPLETED" {
		t.Fatalf("posted: %v", results["t1"])
	}
	if !strings.Contains(logs, "too short to mask") || !strings.Contains(logs, "length=3") || strings.Contains(logs, "q7z") {
		t.Errorf("worker log:\n%s", logs)
	}
}

// TestWorkerAnswersAMalformedPolledTask: a polled task whose fields do not
// have Conductor's types (a runtimeMetadata value that is an object) is
// answered, failed with a reason naming the field, never dropped, and the
// tasks polled with it run.
func TestWorkerAnswersAMalformedPolledTask(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{}`))
	}))
	defer target.Close()
	in := `{"http_request":{"uri":"` + target.URL + `","method":"GET"}}`
	good := `{"taskId":"t2","workflowInstanceId":"w2","taskDefName":"h","inputData":` + in + `,"workflowTask":{"inputParameters":` + in + `}}`
	bad := `{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":` + in + `,"workflowTask":{"inputParameters":` + in + `},
	  "runtimeMetadata":{"API_KEY":{"key":"meta-VALUE-5c1d"}}}`
	results, logs := pollOnceWith(t, nil, map[string]string{"h": tasks.TypeHTTP}, "unused-value", bad+","+good)
	if results["t2"]["status"] != "COMPLETED" {
		t.Errorf("t2: %v", results["t2"])
	}
	reason, _ := results["t1"]["reasonForIncompletion"].(string)
	if results["t1"]["status"] != "FAILED_WITH_TERMINAL_ERROR" || !strings.Contains(reason, "runtimeMetadata") {
		t.Errorf("t1: %v", results["t1"])
	}
	b, _ := json.Marshal(results)
	if strings.Contains(string(b), "meta-VALUE-5c1d") || strings.Contains(logs, "meta-VALUE-5c1d") {
		t.Errorf("posted %s\nlog:\n%s", b, logs)
	}
}
