package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redistest"
)

// TestMain lets tests run the real CLI in a child process (the test binary
// re-executed with WFRUN_TEST_AS_CLI=1), for the kill/resume and two-process
// tests.
func TestMain(m *testing.M) {
	if os.Getenv("WFRUN_TEST_AS_CLI") == "1" {
		os.Args = append([]string{"wfrun"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const workflows = "../../testdata/workflows/"

func TestRunHelloNoNetwork(t *testing.T) {
	cliEnv(t)
	out, errOut, code := wfrun(t, "", "run", workflows+"hello.json", "--input", `{"name":"world","times":3}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %q", out)
	}
	want := map[string]any{"greeting": "Hello, world!", "loud": "HELLO, WORLD!", "branch": "many", "iterations": 3.0, "last": "3: Hello, world!"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (output %s)", k, got[k], v, out)
		}
	}
	if !strings.Contains(errOut, "task greet (INLINE) COMPLETED") || !strings.Contains(errOut, "COMPLETED") {
		t.Errorf("progress lines missing: %s", errOut)
	}
}

// The end-to-end secrets check: the HTTP task sends the token, the server
// checks it and echoes it back; nothing persisted or printed holds it.
func TestRunBearerTokenNeverLeaks(t *testing.T) {
	for _, backend := range []string{"bolt", "redis"} {
		t.Run(backend, func(t *testing.T) {
			home := cliEnv(t)
			var rdb *redis.Client
			if backend == "redis" {
				addr := redistest.Start(t)
				t.Setenv("WFRUN_STORE", "redis://"+addr)
				rdb = redis.NewClient(&redis.Options{Addr: addr})
				t.Cleanup(func() { rdb.Close() })
			}
			const token = "tok-4f1c9a7e2b8d6053"
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if r.Header.Get("Authorization") != "Bearer "+token {
					http.Error(w, `{"error":"bad token"}`, http.StatusUnauthorized)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"youSent":%q,"b64":%q}`, r.Header.Get("Authorization"), base64.StdEncoding.EncodeToString([]byte(token)))
			}))
			defer srv.Close()
			mustRun(t, "", "secret", "set", "api_token", "--value", token)

			out, errOut, code := wfrun(t, "", "run", workflows+"http_bearer.json", "--input", `{"url":"`+srv.URL+`/echo"}`)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if hits.Load() != 1 {
				t.Fatalf("server hits = %d", hits.Load())
			}
			var res struct {
				Status int `json:"status"`
				Body   struct {
					YouSent string `json:"youSent"`
					B64     string `json:"b64"`
				} `json:"body"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("stdout: %q", out)
			}
			if res.Status != 200 || res.Body.YouSent != "Bearer ***" || res.Body.B64 != "***" {
				t.Fatalf("output not masked as expected: %s", out)
			}
			runID := regexp.MustCompile(`run ([0-9a-f-]{36})`).FindStringSubmatch(errOut)
			if runID == nil {
				t.Fatalf("no run id in progress: %s", errOut)
			}
			show := mustRun(t, "", "show", runID[1], "-o", "json")
			table := mustRun(t, "", "show", runID[1])
			runs := mustRun(t, "", "runs", "-o", "json")
			if !strings.Contains(show, `${workflow.secrets.api_token}`) {
				t.Errorf("stored input should keep the reference: %s", show)
			}
			leaks := map[string]string{"stdout": out, "stderr": errOut, "show json": show, "show table": table, "runs": runs}
			entries, _ := os.ReadDir(home)
			for _, e := range entries {
				b, _ := os.ReadFile(filepath.Join(home, e.Name()))
				leaks["file "+e.Name()] = string(b)
			}
			if backend == "bolt" {
				if _, ok := leaks["file runs.db"]; !ok {
					t.Fatalf("no runs.db in %s", home)
				}
			}
			if rdb != nil {
				keys, err := rdb.Keys(context.Background(), "*").Result()
				if err != nil || len(keys) == 0 {
					t.Fatalf("redis keys: %v %v", keys, err)
				}
				for _, k := range keys {
					d, err := rdb.Dump(context.Background(), k).Result()
					if err != nil {
						t.Fatal(err)
					}
					leaks["redis "+k] = d
				}
			}
			forms := []string{token, base64.StdEncoding.EncodeToString([]byte(token)), base64.StdEncoding.EncodeToString([]byte("Bearer " + token))}
			for where, text := range leaks {
				for _, f := range forms {
					if strings.Contains(text, f) {
						t.Errorf("%s holds the token (form %q)", where, f)
					}
				}
			}
		})
	}
}

func TestRunSecretEchoExample(t *testing.T) {
	cliEnv(t)
	mustRun(t, "", "secret", "set", "api_token", "--value", "s3cr3t-value-for-readme")
	out, errOut, code := wfrun(t, "", "run", workflows+"secret_echo.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, "s3cr3t-value-for-readme") {
		t.Fatalf("leak: %s %s", out, errOut)
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(out), &got)
	if got["header"] != "Bearer ***" || got["length"] != float64(len("Bearer s3cr3t-value-for-readme")) || got["storedInput"] != "Bearer ${workflow.secrets.api_token}" {
		t.Fatalf("output: %s", out)
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cliEnv(t)
	failing := write("fail.json", `{"name":"f","tasks":[{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED","terminationReason":"nope"}}]}`)
	_, errOut, code := wfrun(t, "", "run", failing)
	if code != 1 || !strings.Contains(errOut, "FAILED: nope") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	missing := write("missing.json", `{"name":"m","tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE","inputParameters":{"v":"${workflow.secrets.absent}","expression":"1"}}]}`)
	_, errOut, code = wfrun(t, "", "run", missing)
	if code != 1 || !strings.Contains(errOut, `"absent"`) {
		t.Fatalf("missing secret: exit %d: %s", code, errOut)
	}
	bad := write("bad.json", `{"name":"b","tasks":[{"name":"t","taskReferenceName":"t","type":"NOPE"},{"name":"u","taskReferenceName":"t","type":"INLINE","inputParameters":{"a":"${x.output"}}]}`)
	_, errOut, code = wfrun(t, "", "run", bad)
	if code != 2 || !strings.Contains(errOut, `/tasks/0/type: unknown task type "NOPE"`) || !strings.Contains(errOut, `/tasks/1/taskReferenceName: duplicate`) {
		t.Fatalf("invalid: exit %d: %s", code, errOut)
	}
	_, errOut, code = wfrun(t, "", "validate", bad)
	if code != 2 || !strings.Contains(errOut, "/tasks/1/inputParameters/a") {
		t.Fatalf("validate: exit %d: %s", code, errOut)
	}
	out, _, code := wfrun(t, "", "validate", workflows+"hello.json", workflows+"approval.json")
	if code != 0 || strings.Count(out, ": ok") != 2 {
		t.Fatalf("validate ok: %d %s", code, out)
	}
	_, errOut, code = wfrun(t, "", "run", workflows+"hello.json", "--input", "{bad")
	if code != 2 || !strings.Contains(errOut, "--input") {
		t.Fatalf("bad input: %d %s", code, errOut)
	}
	_, errOut, code = wfrun(t, "", "run", workflows+"hello.json", "--worker", "oops")
	if code != 2 {
		t.Fatalf("bad worker: %d %s", code, errOut)
	}
}

// cliProcess starts the CLI as a child process.
func cliProcess(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WFRUN_TEST_AS_CLI=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(stderr), &stdout
}

// waitLine reads lines until one matches re (or the stream ends).
func waitLine(t *testing.T, sc *bufio.Scanner, re *regexp.Regexp, log *strings.Builder) []string {
	t.Helper()
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			return m
		}
	}
	t.Fatalf("no line matching %s in:\n%s", re, log)
	return nil
}

// A `wfrun run` waits on a HUMAN task; another process completes it (two
// processes on one runs.db); the run then waits on a WAIT and is killed with
// SIGKILL; `wfrun resume` finishes it without running the first step again.
func TestKillDuringWaitThenResume(t *testing.T) {
	home := cliEnv(t)
	counter := filepath.Join(home, "..", "count")
	worker := "step=echo ran >> " + counter + "; cat"
	countRuns := func() int {
		b, _ := os.ReadFile(counter)
		return strings.Count(string(b), "ran")
	}
	cmd, sc, _ := cliProcess(t, "run", workflows+"approval.json", "--input", `{"pause":"3s"}`, "--worker", worker)
	var log strings.Builder
	m := waitLine(t, sc, regexp.MustCompile(`run ([0-9a-f-]{36}) \(approval\) RUNNING`), &log)
	runID := m[1]
	waitLine(t, sc, regexp.MustCompile(`task approve \(HUMAN\) waits for an external completion`), &log)
	if n := countRuns(); n != 1 {
		t.Fatalf("first step ran %d times", n)
	}
	// Complete the HUMAN task from another process while the run waits.
	done := exec.Command(os.Args[0], "task", "complete", runID, "approve", "--data", `{"approved":true,"by":"carol"}`)
	done.Env = append(os.Environ(), "WFRUN_TEST_AS_CLI=1")
	if out, err := done.CombinedOutput(); err != nil {
		t.Fatalf("task complete: %v: %s", err, out)
	}
	waitLine(t, sc, regexp.MustCompile(`task pause \(WAIT\) waits until`), &log)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	show := mustRun(t, "", "show", runID, "-o", "json")
	if !strings.Contains(show, `"status": "RUNNING"`) {
		t.Fatalf("killed run should stay RUNNING: %s", show)
	}
	before := waitTaskOf(t, show, "pause")
	if before.WaitUntil == 0 || before.Status != "IN_PROGRESS" {
		t.Fatalf("killed run's WAIT: %+v", before)
	}
	out, errOut, code := wfrun(t, "", "resume", runID, "--worker", worker)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	if n := countRuns(); n != 2 {
		t.Fatalf("worker ran %d times in total, want 2 (first step must not re-run)", n)
	}
	// The resumed WAIT keeps the deadline the killed process recorded (not
	// a new one counted from the resume) and does not end before it.
	after := waitTaskOf(t, mustRun(t, "", "show", runID, "-o", "json"), "pause")
	if after.WaitUntil != before.WaitUntil || after.Status != "COMPLETED" || after.EndTime < before.WaitUntil {
		t.Fatalf("WAIT deadline not kept: before the kill %+v, after the resume %+v", before, after)
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(out), &got)
	if got["first"] != 1.0 || got["approvedBy"] != "carol" {
		t.Fatalf("output %s", out)
	}
	if second, _ := got["second"].(map[string]any); second["approved"] != true {
		t.Fatalf("output %s", out)
	}
	_, errOut, code = wfrun(t, "", "resume", runID)
	if code == 0 || !strings.Contains(errOut, "COMPLETED") {
		t.Fatalf("resume of a finished run: %d %s", code, errOut)
	}
}

// waitTask is what a test reads of one task in `wfrun show -o json`.
type waitTask struct {
	Status    string `json:"status"`
	WaitUntil int64  `json:"waitUntil"`
	EndTime   int64  `json:"endTime"`
}

// waitTaskOf returns task ref of the run shown as JSON.
func waitTaskOf(t *testing.T, show, ref string) waitTask {
	t.Helper()
	var run struct {
		Tasks []struct {
			Ref string `json:"referenceTaskName"`
			waitTask
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(show), &run); err != nil {
		t.Fatalf("show -o json: %v: %s", err, show)
	}
	for _, task := range run.Tasks {
		if task.Ref == ref {
			return task.waitTask
		}
	}
	t.Fatalf("no task %s in %s", ref, show)
	return waitTask{}
}

func TestRestartArchivedRun(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	os.WriteFile(wf, []byte(`{"name":"r","tasks":[
	  {"name":"keep","taskReferenceName":"keep","type":"INLINE","inputParameters":{"expression":"({_secrets:{k:'abcd-1234-efgh'}})"}},
	  {"name":"t","taskReferenceName":"fail","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED","terminationReason":"${workflow.input.why}"}}]}`), 0o600)
	_, errOut, code := wfrun(t, "", "run", wf, "--input", `{"why":"first"}`)
	if code != 1 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	id := regexp.MustCompile(`run ([0-9a-f-]{36})`).FindStringSubmatch(errOut)[1]
	_, errOut, code = wfrun(t, "", "restart", id)
	if code == 0 || !strings.Contains(errOut, "/tasks/0/outputData/result/_secrets") {
		t.Fatalf("restart needing archived _secrets: %d %s", code, errOut)
	}
	_, errOut, code = wfrun(t, "", "restart", id, "--from-start")
	if code != 1 || !strings.Contains(errOut, "FAILED: first") {
		t.Fatalf("restart --from-start: %d %s", code, errOut)
	}
	out := mustRun(t, "", "runs")
	if !strings.Contains(out, id) {
		t.Fatalf("runs: %s", out)
	}
}

func TestWorkerCommandEnvironment(t *testing.T) {
	cliEnv(t)
	t.Setenv("WFRUN_MASTER_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	t.Setenv("WFRUN_SECRET_DB", "env-secret-value")
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	os.WriteFile(wf, []byte(`{"name":"w","tasks":[{"name":"env","taskReferenceName":"env","retryCount":0,"inputParameters":{"x":"${workflow.input.x}"}}]}`), 0o600)
	out, errOut, code := wfrun(t, "", "run", wf, "--input", `{"x":5}`,
		"--worker", `env=printf '{"key":"%s","sec":"%s","in":%s}' "$WFRUN_MASTER_KEY" "$WFRUN_SECRET_DB" "$(cat)"`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Key, Sec string
		In       map[string]any
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Key != "" || got.Sec != "" || got.In["x"] != 5.0 {
		t.Fatalf("worker saw %s (%v)", out, err)
	}
	_, errOut, code = wfrun(t, "", "run", wf, "--worker", "env=echo not-json")
	if code != 1 || !strings.Contains(errOut, "did not print a JSON object") {
		t.Fatalf("bad worker output: %d %s", code, errOut)
	}
	// Output past the limit is said as such, not as output that is no JSON.
	_, errOut, code = wfrun(t, "", "run", wf, "--worker", `env=printf '{"a":"'; yes | head -c 16777300; printf '"}'`)
	if code != 1 || !strings.Contains(errOut, "more than 16 MiB on stdout") {
		t.Fatalf("worker output past the limit: %d %s", code, errOut)
	}
}

func TestRunVarsShowYAMLAndRuns(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	os.WriteFile(wf, []byte(`{"name":"vars","variables":{"region":"us","n":1},"tasks":[
	  {"name":"sv","taskReferenceName":"sv","type":"SET_VARIABLE","inputParameters":{"seen":"${workflow.variables.region}"}}],
	  "outputParameters":{"vars":"${workflow.variables}"}}`), 0o600)
	out, errOut, code := wfrun(t, "", "run", wf, "--var", "region=eu", "--var", `n={"k":2}`, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Vars map[string]any `json:"vars"`
	}
	_ = json.Unmarshal([]byte(out), &got)
	if got.Vars["region"] != "eu" || got.Vars["seen"] != "eu" || got.Vars["n"].(map[string]any)["k"] != 2.0 {
		t.Fatalf("output %s", out)
	}
	if strings.Contains(errOut, "SCHEDULED") {
		t.Fatalf("-q still prints task lines: %s", errOut)
	}
	runs := mustRun(t, "", "runs", "--status", "COMPLETED", "-o", "json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(runs), &list); err != nil || len(list) != 1 {
		t.Fatalf("runs: %s", runs)
	}
	id := list[0]["workflowId"].(string)
	y := mustRun(t, "", "show", id, "-o", "yaml")
	if !strings.Contains(y, "status: COMPLETED") || !strings.Contains(y, "region: eu") || strings.Contains(y, "workflowDefinition") {
		t.Fatalf("yaml: %s", y)
	}
	if _, errOut, code := wfrun(t, "", "show", "no-such-run"); code != 1 || !strings.Contains(errOut, "run not found") {
		t.Fatalf("show missing: %d %s", code, errOut)
	}
	if _, _, code := wfrun(t, "", "show", id, "-o", "xml"); code != 2 {
		t.Fatalf("bad -o: %d", code)
	}
}

var _ = io.Discard
