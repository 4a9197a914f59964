package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A run that a live `wfrun run` executes is shown live, cannot be resumed
// by another process (the holder is named), and is ended by `wfrun
// terminate` from another process; the ended run can then be removed.
func TestTerminateLiveRunAndRemove(t *testing.T) {
	cliEnv(t)
	wf := filepath.Join(t.TempDir(), "long.json")
	if err := os.WriteFile(wf, []byte(`{"name":"long","tasks":[
	  {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"60s"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, sc, _ := cliProcess(t, "run", wf)
	defer cmd.Process.Kill()
	var log strings.Builder
	runID := waitLine(t, sc, regexp.MustCompile(`run ([0-9a-f-]{36}) \(long\) RUNNING`), &log)[1]
	waitLine(t, sc, regexp.MustCompile(`task pause \(WAIT\) waits until`), &log)

	if out := mustRun(t, "", "runs"); !regexp.MustCompile(runID + `.*RUNNING.*live \(pid \d+ on `).MatchString(out) {
		t.Fatalf("runs should show the run live:\n%s", out)
	}
	_, errOut, code := wfrun(t, "", "resume", runID)
	if code != 1 || !strings.Contains(errOut, "being executed by another process: pid") {
		t.Fatalf("resume of a live run: exit %d: %s", code, errOut)
	}
	if _, errOut, code := wfrun(t, "", "runs", "rm", runID); code != 1 || !strings.Contains(errOut, "has not ended") {
		t.Fatalf("runs rm of a running run: exit %d: %s", code, errOut)
	}
	start := time.Now()
	if out := mustRun(t, "", "terminate", runID, "--reason", "no longer needed", "-o", "json"); !json.Valid([]byte(out)) || !strings.Contains(out, `"status": "TERMINATED"`) || !strings.Contains(out, runID) {
		t.Fatalf("terminate -o json: %s", out)
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("the terminated run's process: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("terminate took %s", time.Since(start))
	}
	show := mustRun(t, "", "show", runID, "-o", "json")
	if !strings.Contains(show, `"status": "TERMINATED"`) || !strings.Contains(show, "no longer needed") {
		t.Fatalf("show after terminate: %s", show)
	}
	if _, errOut, code := wfrun(t, "", "terminate", runID); code != 1 || !strings.Contains(errOut, "TERMINATED") {
		t.Fatalf("terminate of an ended run: exit %d: %s", code, errOut)
	}
	var removed []struct {
		WorkflowID string `json:"workflowId"`
		Deleted    bool   `json:"deleted"`
	}
	if out := mustRun(t, "", "runs", "rm", runID, "-o", "json"); json.Unmarshal([]byte(out), &removed) != nil || len(removed) != 1 || removed[0].WorkflowID != runID || !removed[0].Deleted {
		t.Fatalf("runs rm -o json: %s", out)
	}
	if _, _, code := wfrun(t, "", "show", runID); code != 1 {
		t.Fatalf("show of a removed run: exit %d", code)
	}
}

// A run whose process was killed is orphaned: `wfrun runs` says so and
// `wfrun terminate` ends it from another process.
func TestTerminateOrphanedRun(t *testing.T) {
	cliEnv(t)
	wf := filepath.Join(t.TempDir(), "long.json")
	if err := os.WriteFile(wf, []byte(`{"name":"long","tasks":[
	  {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"60s"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, sc, _ := cliProcess(t, "run", wf)
	var log strings.Builder
	runID := waitLine(t, sc, regexp.MustCompile(`run ([0-9a-f-]{36}) \(long\) RUNNING`), &log)[1]
	waitLine(t, sc, regexp.MustCompile(`task pause \(WAIT\) waits until`), &log)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if out := mustRun(t, "", "runs"); !regexp.MustCompile(runID + `.*RUNNING.*orphaned`).MatchString(out) {
		t.Fatalf("runs should show the run orphaned:\n%s", out)
	}
	mustRun(t, "", "terminate", runID)
	if show := mustRun(t, "", "show", runID, "-o", "json"); !strings.Contains(show, `"status": "TERMINATED"`) || !strings.Contains(show, `"CANCELED"`) {
		t.Fatalf("show after terminate: %s", show)
	}
}

// Several `wfrun run` processes share runs.db: each holds the file only
// while it needs it, so concurrent runs all complete.
func TestConcurrentRunsShareRunsDB(t *testing.T) {
	cliEnv(t)
	wf := filepath.Join(t.TempDir(), "short.json")
	if err := os.WriteFile(wf, []byte(`{"name":"short","tasks":[
	  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"expr","expression":"1 + 1"}},
	  {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"500ms"}},
	  {"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"expr","expression":"2 + 2"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var stderrs []*bytes.Buffer
	for i := 0; i < 4; i++ {
		cmd := exec.Command(os.Args[0], "run", wf)
		cmd.Env = append(os.Environ(), "WFRUN_TEST_AS_CLI=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, stderrs = append(cmds, cmd), append(stderrs, &stderr)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v:\n%s", i, err, stderrs[i])
		}
	}
	if out := mustRun(t, "", "runs", "--status", "COMPLETED"); strings.Count(out, "short") != 4 {
		t.Fatalf("runs:\n%s", out)
	}
}
