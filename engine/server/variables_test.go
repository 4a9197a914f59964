package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// variablesDef holds at a WAIT task, then reads the variables.
const variablesDef = `{"name":"vars_flow","version":1,"schemaVersion":2,"variables":{"stage":"one","keep":true},"tasks":[
  {"name":"hold","taskReferenceName":"hold","type":"WAIT"},
  {"name":"read","taskReferenceName":"read","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
   "expression":"$.stage + '/' + $.count + '/' + $.keep","stage":"${workflow.variables.stage}","count":"${workflow.variables.count}","keep":"${workflow.variables.keep}"}}],
 "outputParameters":{"read":"${read.output.result}"}}`

// TestUpdateVariablesEndpoint: POST /api/workflow/{id}/variables (Orkes)
// merges the body's members into a running run's variables, as
// SET_VARIABLE sets them, and answers the run's Workflow with them; a
// `_secrets` member is shown "***" and stored sealed (its value in no
// response, stored run or log line) while the run still reads it; the
// tasks after the update read the new values. A body that is not a JSON
// object is a 400, an unknown run a 404, an ended run a 409.
func TestUpdateVariablesEndpoint(t *testing.T) {
	const value = "vars-SECRET-value-5521"
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", strings.Replace(variablesDef, `"keep":"${workflow.variables.keep}"`,
		`"keep":"${workflow.variables.keep}","tok":"${workflow.variables._secrets.token}"`, 1)); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := startByName(t, ts, "vars_flow")
	waitRun(t, ts, id, "RUNNING")
	st, ct, body := ts.do(t, "POST", "/api/workflow/"+id+"/variables", `{"stage":"two","count":2,"_secrets":{"token":"`+value+`"}}`)
	if st != 200 || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("update: %d %s %s", st, ct, body)
	}
	var wf struct {
		WorkflowID string         `json:"workflowId"`
		Status     string         `json:"status"`
		Variables  map[string]any `json:"variables"`
		Tasks      []any          `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &wf); err != nil {
		t.Fatal(err)
	}
	if wf.WorkflowID != id || wf.Status != "RUNNING" || len(wf.Tasks) == 0 ||
		fmt.Sprint(wf.Variables) != "map[_secrets:*** count:2 keep:true stage:two]" {
		t.Errorf("answer: %s", body)
	}
	// A second update merges into the first.
	if st, _, body := ts.do(t, "POST", "/api/workflow/"+id+"/variables", `{"count":3}`); st != 200 || !strings.Contains(body, `"count":3`) || !strings.Contains(body, `"stage":"two"`) {
		t.Errorf("second update: %d %s", st, body)
	}
	for _, bad := range []string{``, `[1]`, `"x"`, `{"a":`, `not json`} {
		if st, _, body := ts.do(t, "POST", "/api/workflow/"+id+"/variables", bad); st != http.StatusBadRequest {
			t.Errorf("body %q: %d %s, want 400", bad, st, body)
		}
	}
	const missing = "00000000-0000-0000-0000-000000000000"
	if st, _, body := ts.do(t, "POST", "/api/workflow/"+missing+"/variables", `{"a":1}`); st != http.StatusNotFound {
		t.Errorf("unknown run: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+id+"/hold/COMPLETED", `{}`); st != 200 {
		t.Fatalf("complete hold: %d %s", st, body)
	}
	done := waitRun(t, ts, id, "COMPLETED")
	if out, _ := done["output"].(map[string]any); out["read"] != "two/3/true" {
		t.Errorf("output = %v, want the updated variables read", done["output"])
	}
	read := done["tasks"].([]any)[1].(map[string]any)
	if in, _ := read["inputData"].(map[string]any); in["tok"] != "***" {
		t.Errorf("read's input = %v: the sealed variable is not shown", in)
	}
	if st, _, body := ts.do(t, "POST", "/api/workflow/"+id+"/variables", `{"a":1}`); st != http.StatusConflict {
		t.Errorf("ended run: %d %s, want 409", st, body)
	}
	_, _, view := ts.do(t, "GET", "/api/workflow/"+id, "")
	stored, _, err := ts.runs.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"answer": body, "view": view, "stored run": string(stored), "log": ts.logs.String()} {
		if strings.Contains(text, value) {
			t.Errorf("%s holds the secret value", what)
		}
	}
}

// TestUpdateVariablesScopes: changing a run's variables needs the right
// to change the run (workflows:manage of its workflow, or having started
// it): a reader gets 403 naming the scope, a caller who may not read the
// run the answer an unknown run gets; a refused update changes nothing.
func TestUpdateVariablesScopes(t *testing.T) {
	ts := newScopedServer(t)
	id := ts.startGuarded(t, false)
	vars := func() string {
		_, _, body := ts.as(t, "admin", "GET", "/api/workflow/"+id+"/status?includeVariables=true", "")
		return body
	}
	before := vars()
	for _, c := range []struct {
		who  string
		want int
	}{{"rita", 403}, {"carol", 404}, {"anonymous", 404}, {"sam", 404}} {
		if st, _, body := ts.as(t, c.who, "POST", "/api/workflow/"+id+"/variables", `{"x":"`+c.who+`"}`); st != c.want {
			t.Errorf("%s: %d %s, want %d", c.who, st, body, c.want)
		}
	}
	if after := vars(); after != before {
		t.Errorf("a refused update changed the variables: %s → %s", before, after)
	}
	for _, who := range []string{"alice", "bob"} {
		if st, _, body := ts.as(t, who, "POST", "/api/workflow/"+id+"/variables", `{"by":"`+who+`"}`); st != 200 || !strings.Contains(body, `"by":"`+who+`"`) {
			t.Errorf("%s: %d %s", who, st, body)
		}
	}
}

// TestOrkesJSSDKUpdateVariables: the Orkes JS SDK's
// WorkflowExecutor.updateVariables gets the run's Workflow with the new
// variables (a `_secrets` member shown "***"), and the run's later task
// reads them.
func TestOrkesJSSDKUpdateVariables(t *testing.T) {
	sdk := jsSDKDir(t)
	const value = "js-vars-SECRET-8810"
	ts := newConductorServer(t, nil, serverWithAuth(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/variables.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=app-all",
		"KEY_SECRET=app-all-secret-0123456789", "SECRET_VALUE="+value)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct {
		Error   string `json:"error"`
		Updated struct {
			ID        bool           `json:"id"`
			Status    string         `json:"status"`
			Variables map[string]any `json:"variables"`
		} `json:"updated"`
		Status    string         `json:"status"`
		Output    map[string]any `json:"output"`
		Variables map[string]any `json:"variables"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	if !got.Updated.ID || got.Updated.Status != "RUNNING" || fmt.Sprint(got.Updated.Variables) != "map[_secrets:*** count:2 stage:two]" {
		t.Errorf("updateVariables answered %+v", got.Updated)
	}
	if got.Status != "COMPLETED" || got.Output["read"] != "two/2" {
		t.Errorf("run: %s %v", got.Status, got.Output)
	}
	if strings.Contains(stdout.String(), value) || strings.Contains(ts.logs.String(), value) {
		t.Error("the secret value was answered or logged")
	}
}
