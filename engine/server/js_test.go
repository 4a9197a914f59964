package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jsSDKDir finds the node_modules holding @io-orkes/conductor-javascript:
// $WFRUN_JS_SDK, else .ci/js/node_modules (where .ci/run installs it). It
// skips the test when node or the package is missing, and fails instead
// under CI=true.
func jsSDKDir(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (CI installs it in .ci/run)", what)
		}
		t.Skipf("%s is missing: npm install --prefix .ci/js --legacy-peer-deps @io-orkes/conductor-javascript@4.0.0", what)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node")
	}
	dir := os.Getenv("WFRUN_JS_SDK")
	if dir == "" {
		dir, _ = filepath.Abs("../../.ci/js/node_modules")
	}
	if _, err := os.Stat(filepath.Join(dir, "@io-orkes", "conductor-javascript", "package.json")); err != nil {
		missing("@io-orkes/conductor-javascript in " + dir)
	}
	return dir
}

// TestOrkesJSSDKFlow drives wfrun serve (token auth on) with the Orkes
// JavaScript SDK 4.0.0, unmodified: secrets CRUD, exists, list and tags;
// a workflow whose HTTP task sends Bearer ${workflow.secrets.js_token} to a
// server that echoes it, plus a SIMPLE task done by a TaskManager worker.
// The run completes, and the value is in no response, log line or stored run.
func TestOrkesJSSDKFlow(t *testing.T) {
	sdk := jsSDKDir(t)
	const value = "js-sdk-VALUE-7b1e3c"
	ts := newConductorServer(t, nil, serverWithAuth(t))
	echo := echoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/flow.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=app-all",
		"KEY_SECRET=app-all-secret-0123456789", "ECHO_URL="+echo.URL, "SECRET_VALUE="+value)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct {
		Error          string   `json:"error"`
		GetMatches     bool     `json:"getMatches"`
		Exists         bool     `json:"exists"`
		Listed         bool     `json:"listed"`
		Tags           []string `json:"tags"`
		WorkerGotValue bool     `json:"workerGotValue"`
		WorkerRemote   string   `json:"workerRemote"`
		ID             string   `json:"id"`
		Status         string   `json:"status"`
		Echoed         string   `json:"echoed"`
		Tasks          []string `json:"tasks"`
	}
	// The SDK logs to stdout too: the findings are the last line.
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	if !got.GetMatches || !got.Exists || !got.Listed || strings.Join(got.Tags, ",") != "team=js" {
		t.Errorf("secrets API through the JS SDK: %+v", got)
	}
	if got.Status != "COMPLETED" || !got.WorkerGotValue || got.WorkerRemote != "$<workflow.secrets.elsewhere>" || got.Echoed != "Bearer ***" {
		t.Errorf("workflow through the JS SDK: %+v", got)
	}
	if strings.Join(got.Tasks, ",") != "call:COMPLETED,work:COMPLETED" {
		t.Errorf("tasks: %v", got.Tasks)
	}
	_, _, execution := ts.do(t, "GET", "/api/workflow/"+got.ID, "", "X-Authorization", token(t, ts))
	stored, _, err := ts.runs.Load(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(execution, `"received":"***"`) {
		t.Errorf("execution: %s", execution)
	}
	for what, text := range map[string]string{"execution": execution, "stored run": string(stored), "log": ts.logs.String(), "node output": stdout.String() + stderr.String()} {
		if strings.Contains(text, value) {
			t.Errorf("%s contains the secret value", what)
		}
	}
}

// token logs in as app-all.
func token(t *testing.T, ts *conductorServer) string {
	t.Helper()
	_, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"app-all","keySecret":"app-all-secret-0123456789"}`)
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %s", body)
	}
	return tok.Token
}
