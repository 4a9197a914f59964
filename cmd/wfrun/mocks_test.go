package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const transcribed = "../../testdata/conductor/transcribed/"

// requestDef writes the workflowDef of a transcribed WorkflowTestRequest
// to a file of its own (`wfrun run` takes a definition file) and returns
// its path.
func requestDef(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(transcribed + file)
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		WorkflowDef json.RawMessage `json:"workflowDef"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "wf.json")
	if err := os.WriteFile(path, req.WorkflowDef, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunMocks: `wfrun run --mocks` runs TestWorkflowSpec's request as a
// test run: task1 from its mock, then the run stops at task2 (no mock)
// with exit status 1 naming it, and stays RUNNING; with a mock for every
// task the run completes, its mocked secret masked on stdout and in show.
func TestRunMocks(t *testing.T) {
	cliEnv(t)
	def := requestDef(t, "test_workflow_simple_tasks_request.json")
	out, errOut, code := wfrun(t, "", "run", def, "--mocks", transcribed+"test_workflow_simple_tasks_request.json", "-o", "json")
	if code != 1 || !strings.Contains(errOut, "stopped at task task2: it has no mock left") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	var res struct {
		WorkflowID, Status string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Status != "RUNNING" {
		t.Fatalf("stdout %q: %v", out, err)
	}
	shown, errOut, code := wfrun(t, "", "show", res.WorkflowID, "-o", "json")
	if code != 0 {
		t.Fatalf("show: %d %s", code, errOut)
	}
	var view struct {
		Status string
		Tasks  []struct {
			ReferenceTaskName, Status string
			OutputData                map[string]any
		}
	}
	if err := json.Unmarshal([]byte(shown), &view); err != nil {
		t.Fatalf("show: %q", shown)
	}
	if view.Status != "RUNNING" || len(view.Tasks) != 2 || view.Tasks[0].Status != "COMPLETED" || view.Tasks[0].OutputData["key"] != "value" ||
		view.Tasks[1].ReferenceTaskName != "task2" || view.Tasks[1].Status != "SCHEDULED" {
		t.Fatalf("show: %s", shown)
	}

	const secret = "cli-mock-SECRET-9d2e61"
	mocks := filepath.Join(t.TempDir(), "mocks.json")
	if err := os.WriteFile(mocks, []byte(`{"taskRefToMockOutput":{"task1":[{"status":"FAILED"},{"output":{"_secrets":{"t":"`+secret+`"},"echo":"`+secret+`"}}],"task2":[{"output":{"ok":true}}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// task1's definition beside the workflow: no retries (without one it
	// would have the ad-hoc definition's 3).
	if err := os.WriteFile(filepath.Join(filepath.Dir(def), "task1.json"), []byte(`{"name":"task1","retryCount":0}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = wfrun(t, "", "run", def, "--mocks", mocks, "-o", "json")
	if code != 1 || !strings.Contains(errOut, "FAILED") {
		t.Fatalf("task1 has no retries: a mocked FAILED fails the run; exit %d\n%s\n%s", code, out, errOut)
	}
	if err := os.WriteFile(mocks, []byte(`{"taskRefToMockOutput":{"task1":[{"output":{"_secrets":{"t":"`+secret+`"},"echo":"`+secret+`"}}],"task2":[{"output":{"ok":true}}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = wfrun(t, "", "run", def, "--mocks", mocks, "-o", "json")
	if code != 0 || !strings.Contains(out, `"COMPLETED"`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	_ = json.Unmarshal([]byte(out), &res)
	shown, _, _ = wfrun(t, "", "show", res.WorkflowID, "-o", "json")
	for what, text := range map[string]string{"stdout": out, "stderr": errOut, "show": shown} {
		if strings.Contains(text, secret) {
			t.Errorf("%s holds the mocked secret: %s", what, text)
		}
	}
	if !strings.Contains(shown, `"echo": "***"`) && !strings.Contains(shown, `"echo":"***"`) {
		t.Errorf("show: %s", shown)
	}
}

// TestRunMocksBadFile: a mocks file the engine does not take is bad usage
// (exit status 2) naming the file and the mock.
func TestRunMocksBadFile(t *testing.T) {
	cliEnv(t)
	def := requestDef(t, "test_workflow_simple_tasks_request.json")
	dir := t.TempDir()
	cases := map[string]string{
		`{"taskRefToMockOutput":{"task1":[{"status":"DONE"}]}}`: `taskRefToMockOutput["task1"][0].status "DONE"`,
		`{"taskRefToMockOutput":{"task1":{"status":"DONE"}}}`:   "want a WorkflowTestRequest",
		`{"taskRefToMockOutput":`:                               "--mocks",
	}
	i := 0
	for body, want := range cases {
		i++
		path := filepath.Join(dir, "m"+string(rune('0'+i))+".json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := wfrun(t, "", "run", def, "--mocks", path)
		if code != 2 || !strings.Contains(errOut, want) || !strings.Contains(errOut, path) {
			t.Errorf("%s: exit %d %s, want 2 naming %s and %s", body, code, errOut, path, want)
		}
	}
}
