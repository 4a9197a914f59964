package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// task skip, from a second "terminal" while the run waits on its HUMAN
// task: the INLINE task after it is recorded SKIPPED with --data as its
// output, which the run's output reads; the `_secrets` member is shown
// "***". A task already scheduled cannot be skipped (exit 1, one line).
func TestTaskSkip(t *testing.T) {
	cliEnv(t)
	wf := writeFile(t, t.TempDir(), "skip.json", `{"name":"skippy","tasks":[
	  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
	  {"name":"compute","taskReferenceName":"compute","type":"INLINE","inputParameters":{
	    "evaluatorType":"javascript","expression":"'computed'"}}],
	  "outputParameters":{"result":"${compute.output.result}"}}`)
	done := runInBackground(t, wf)
	id := runningID(t)
	const value = "cli-skip-secret-7730"
	out, errOut, code := cli(t, "", "task", "skip", id, "compute", "--data",
		`{"result":"given","_secrets":{"token":"`+value+`"}}`, "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["workflowId"] != id || v["referenceTaskName"] != "compute" || v["status"] != "SKIPPED" {
		t.Fatalf("task skip -o json: exit %d: %q %s", code, out, errOut)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// The record appears while the run still waits on approve.
		if out, _, _ := cli(t, "", "show", id, "-o", "json"); strings.Contains(out, `"SKIPPED"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the skipped record never showed up")
		}
	}
	_, errOut, code = cli(t, "", "task", "skip", id, "approve")
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "approve") {
		t.Fatalf("skip of a scheduled task: exit %d: %q", code, errOut)
	}
	if out, errOut, code := cli(t, "", "task", "complete", id, "approve"); code != 0 {
		t.Fatalf("task complete: exit %d: %s %s", code, out, errOut)
	}
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.out, `"result": "given"`) {
			t.Fatalf("run: exit %d: %s %s", r.code, r.out, r.errOut)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end")
	}
	out, _, _ = cli(t, "", "show", id, "-o", "json")
	if strings.Contains(out, value) || !strings.Contains(out, `"SKIPPED"`) || !strings.Contains(out, `"_secrets": "***"`) {
		t.Fatalf("show: %s", out)
	}
}
