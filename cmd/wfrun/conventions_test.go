package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// cli runs wfrun through execute, the path main takes: the exit status,
// the one-line error and the panic handling are main's.
func cli(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// writeFile writes body under dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// allCommands lists every visible command path of the tree (cobra's own
// help and completion included).
func allCommands() [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Hidden {
			return
		}
		out = append(out, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(newRootCmd(), nil)
	return out
}

func TestEveryCommandHelpHasAnExample(t *testing.T) {
	cliEnv(t)
	cmds := allCommands()
	if len(cmds) < 20 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for _, path := range cmds {
		t.Run(strings.Join(append([]string{"wfrun"}, path...), " "), func(t *testing.T) {
			out, errOut, code := cli(t, "", append(path, "--help")...)
			if code != 0 {
				t.Fatalf("--help exit %d: %s", code, errOut)
			}
			i := strings.Index(out, "Examples:\n")
			if i < 0 || !strings.Contains(out[i:], "wfrun ") {
				t.Fatalf("no example in --help:\n%s", out)
			}
		})
	}
}

const failingWorkflow = `{"name":"f","tasks":[{"name":"t","taskReferenceName":"t","type":"TERMINATE",
  "inputParameters":{"terminationStatus":"FAILED","terminationReason":"nope"}}]}`

func TestExitStatuses(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	failing := writeFile(t, dir, "fail.json", failingWorkflow)
	invalid := writeFile(t, dir, "bad.json", `{"name":"b","tasks":[{"name":"t","taskReferenceName":"t","type":"NOPE"}]}`)
	if _, errOut, code := cli(t, "", "secret", "set", "exists_already", "--value", "value-1234"); code != 0 {
		t.Fatal(errOut)
	}
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"no arguments prints help", nil, 0},
		{"unknown command", []string{"bogus"}, 2},
		{"unknown subcommand", []string{"secret", "bogus"}, 2},
		{"unknown flag", []string{"runs", "--bogus"}, 2},
		{"unknown root flag", []string{"--bogus"}, 2},
		{"missing argument", []string{"run"}, 2},
		{"too many arguments", []string{"show", "a", "b"}, 2},
		{"malformed duration", []string{"run", failing, "--every", "soon"}, 2},
		{"malformed int", []string{"runs", "--limit", "many"}, 2},
		{"bad -o", []string{"runs", "-o", "xml"}, 2},
		{"bad --status", []string{"runs", "--status", "BOGUS"}, 2},
		{"bad task status", []string{"task", "complete", "r", "t", "--status", "MAYBE"}, 2},
		{"malformed --input", []string{"run", failing, "--input", "{bad"}, 2},
		{"invalid definition", []string{"run", invalid}, 2},
		{"invalid definition (validate)", []string{"validate", invalid}, 2},
		{"invalid secret name", []string{"secret", "get", "bad name"}, 2},
		{"failed run", []string{"run", failing}, 1},
		{"failed run, json", []string{"run", failing, "-o", "json"}, 1},
		{"missing run", []string{"show", "no-such-run"}, 1},
		{"missing secret", []string{"secret", "get", "no_such_secret"}, 1},
		{"secret exists: no", []string{"secret", "exists", "no_such_secret"}, 1},
		{"secret exists: yes", []string{"secret", "exists", "exists_already"}, 0},
		{"missing workflow file", []string{"run", filepath.Join(dir, "absent.json")}, 2},
		{"version", []string{"--version"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := cli(t, "", c.args...)
			if code != c.want {
				t.Fatalf("wfrun %q: exit %d, want %d; stderr:\n%s", c.args, code, c.want, errOut)
			}
			if code != 0 && c.name != "secret exists: no" {
				// One "wfrun: " line; only a definition's problem list
				// follows it, indented.
				i := strings.LastIndex(errOut, "wfrun: ")
				if i < 0 || (i > 0 && errOut[i-1] != '\n') {
					t.Fatalf("no 'wfrun: ' error line:\n%s", errOut)
				}
				for _, l := range strings.Split(strings.TrimSpace(errOut[i:]), "\n")[1:] {
					if !strings.HasPrefix(l, "  ") {
						t.Errorf("error continues on an unindented line %q", l)
					}
				}
				if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "Usage:") {
					t.Errorf("stack trace or usage dump on error:\n%s", errOut)
				}
			}
		})
	}
}

func TestJSONOutputParses(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	failing := writeFile(t, dir, "fail.json", failingWorkflow)
	if _, errOut, code := cli(t, "", "secret", "set", "api_token", "--value", "tok-8f2a61c9d0"); code != 0 {
		t.Fatal(errOut)
	}
	out, _, _ := cli(t, "", "run", failing, "-o", "json", "-q")
	var res runResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.WorkflowID == "" || res.Status != "FAILED" || res.ReasonForIncompletion != "nope" {
		t.Fatalf("run -o json of a failed run: %v %q", err, out)
	}
	cases := [][]string{
		{"run", workflows + "hello.json", "--input", `{"name":"ann","times":2}`, "-q"},
		{"runs"},
		{"show", res.WorkflowID},
		{"validate", workflows + "hello.json"},
		{"version"},
		{"secret", "set", "db", "--json", `{"user":"app-user","password":"pw-12345"}`},
		{"secret", "get", "db"},
		{"secret", "get", "db", "--reveal"},
		{"secret", "exists", "db"},
		{"secret", "ls"},
		{"secret", "history", "db"},
		{"secret", "tag", "db", "team=payments"},
		{"secret", "rm", "never_there"},
		{"secret", "sweep"},
		{"secret", "export", filepath.Join(dir, "all.sealed"), "--force"},
		{"secret", "import", filepath.Join(dir, "all.sealed")},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			for _, how := range []string{"flag", "env"} {
				a := append([]string(nil), args...)
				if how == "flag" {
					a = append(a, "-o", "json")
					t.Setenv(envOutput, "")
				} else {
					t.Setenv(envOutput, "json")
				}
				out, errOut, code := cli(t, "", a...)
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", how, code, errOut)
				}
				if !json.Valid([]byte(out)) {
					t.Fatalf("%s: stdout is not JSON:\n%s", how, out)
				}
			}
		})
	}
	t.Setenv(envOutput, "")
	// restart (and resume, through the same code) print the run envelope.
	out, errOut, code := cli(t, "", "restart", res.WorkflowID, "--from-start", "-q", "-o", "json")
	var again runResult
	if code != 1 || json.Unmarshal([]byte(out), &again) != nil || again.WorkflowID != res.WorkflowID || again.Status != "FAILED" {
		t.Errorf("restart -o json of a failing run: exit %d: %q %s", code, out, errOut)
	}
	if out, _, _ := cli(t, "", "secret", "get", "db", "--reveal", "--field", "value.password"); out != "pw-12345\n" {
		t.Errorf("--field value.password = %q", out)
	}
	if out, _, _ := cli(t, "", "runs", "--field", "status", "--status", "failed"); out != "FAILED\n" {
		t.Errorf("runs --field status = %q", out)
	}
	if _, errOut, code := cli(t, "", "runs", "--field", "nope"); code != 2 || !strings.Contains(errOut, "workflowId") {
		t.Errorf("--field of a missing field: exit %d: %s", code, errOut)
	}
	t.Setenv(envOutput, "xml")
	if _, errOut, code := cli(t, "", "runs"); code != 2 || !strings.Contains(errOut, envOutput) {
		t.Errorf("bad WFRUN_OUTPUT: exit %d: %s", code, errOut)
	}
}

func TestPanicExits1WithoutStack(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		root := newRootCmd()
		root.AddCommand(&cobra.Command{Use: "boom", RunE: func(*cobra.Command, []string) error { panic("kaboom-value") }})
		args := []string{"boom"}
		if verbose {
			args = append(args, "--verbose")
		}
		var out, errb bytes.Buffer
		code := executeRoot(context.Background(), root, args, strings.NewReader(""), &out, &errb)
		if code != 1 {
			t.Fatalf("verbose=%v: exit %d", verbose, code)
		}
		lines := strings.Count(strings.TrimSpace(errb.String()), "\n") + 1
		if !verbose && (lines != 1 || strings.Contains(errb.String(), "kaboom-value") || !strings.Contains(errb.String(), "--verbose")) {
			t.Errorf("panic report: %q", errb.String())
		}
		if verbose && (!strings.Contains(errb.String(), "kaboom-value") || !strings.Contains(errb.String(), "goroutine")) {
			t.Errorf("verbose panic report lacks the value or stack: %q", errb.String())
		}
	}
}

// cliResult is what a wfrun command run by cli gave.
type cliResult struct {
	out, errOut string
	code        int
}

// runInBackground runs `wfrun run wf -q` in a goroutine (as a second
// terminal would) and sends what it gave when it ends.
func runInBackground(t *testing.T, wf string) <-chan cliResult {
	done := make(chan cliResult, 1)
	go func() {
		o, e, c := cli(t, "", "run", wf, "-q")
		done <- cliResult{o, e, c}
	}()
	return done
}

// runningID waits for the one RUNNING run (started by runInBackground)
// and returns its id.
func runningID(t *testing.T) string {
	t.Helper()
	var id string
	for deadline := time.Now().Add(20 * time.Second); id == "" && time.Now().Before(deadline); {
		out, _, _ := cli(t, "", "runs", "--status", "RUNNING", "--field", "workflowId")
		id = strings.TrimSpace(out)
		time.Sleep(100 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("the run never showed up as RUNNING")
	}
	return id
}

// awaitTaskStatus waits until task ref of run id has status, as "wfrun show"
// tells it.
func awaitTaskStatus(t *testing.T, id, ref, status string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _, _ := cli(t, "", "show", id, "-o", "json")
		var run struct {
			Tasks []struct {
				Ref    string `json:"referenceTaskName"`
				Status string `json:"status"`
			} `json:"tasks"`
		}
		_ = json.Unmarshal([]byte(out), &run)
		for _, task := range run.Tasks {
			if task.Ref == ref && task.Status == status {
				return
			}
		}
		last = out
	}
	t.Fatalf("run %s: task %s never was %s: %s", id, ref, status, last)
}

// task complete -o json, against a run waiting in another goroutine (as a
// second terminal would).
func TestTaskCompleteJSON(t *testing.T) {
	cliEnv(t)
	wf := writeFile(t, t.TempDir(), "human.json", `{"name":"human","tasks":[
	  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"}],
	  "outputParameters":{"ok":"${approve.output.approved}"}}`)
	done := runInBackground(t, wf)
	id := runningID(t)
	// The run is stored RUNNING before it schedules approve: until then
	// there is no task to complete.
	awaitTaskStatus(t, id, "approve", "IN_PROGRESS")
	out, errOut, code := cli(t, "", "task", "complete", id, "approve", "--data", `{"approved":true}`, "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["workflowId"] != id || v["referenceTaskName"] != "approve" || v["status"] != "COMPLETED" {
		t.Fatalf("task complete -o json: exit %d: %q %s", code, out, errOut)
	}
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.out, `"ok": true`) {
			t.Fatalf("run: exit %d: %s %s", r.code, r.out, r.errOut)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not pick up the completion")
	}
}

// task signal completes the WAIT task a run is blocked on, here inside its
// inline sub-workflow, from a second process; a run with nothing blocked
// is one line and exit 1.
func TestTaskSignal(t *testing.T) {
	cliEnv(t)
	wf := writeFile(t, t.TempDir(), "signal.json", `{"name":"signal_parent","tasks":[
	  {"name":"child","taskReferenceName":"child","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"signal_child",
	    "workflowDefinition":{"name":"signal_child","tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT"}],
	      "outputParameters":{"approved":"${hold.output.approved}"}}}}],
	  "outputParameters":{"ok":"${child.output.approved}"}}`)
	done := runInBackground(t, wf)
	var parent, child string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, _, _ := cli(t, "", "runs", "--status", "RUNNING", "-o", "json")
		var runs []map[string]any
		_ = json.Unmarshal([]byte(out), &runs)
		if len(runs) == 2 { // the parent and its child
			for _, r := range runs {
				id, _ := r["workflowId"].(string)
				switch r["workflowType"] {
				case "signal_parent":
					parent = id
				case "signal_child":
					child = id
				}
			}
			break
		}
	}
	if parent == "" || child == "" {
		t.Fatal("the parent and its child never showed up as RUNNING")
	}
	// The child is stored RUNNING before it reaches its WAIT task (on a
	// loaded machine, a while before): until then nothing is blocked.
	awaitTaskStatus(t, child, "hold", "IN_PROGRESS")
	out, errOut, code := cli(t, "", "task", "signal", parent, "--data", `{"approved":true}`, "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["workflowId"] == parent || v["workflowId"] == "" ||
		v["referenceTaskName"] != "hold" || v["status"] != "COMPLETED" || v["taskId"] == "" {
		t.Fatalf("task signal -o json: exit %d: %q %s", code, out, errOut)
	}
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.out, `"ok": true`) {
			t.Fatalf("run: exit %d: %s %s", r.code, r.out, r.errOut)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not pick up the signal")
	}
	_, errOut, code = cli(t, "", "task", "signal", parent)
	if code != 1 || !strings.Contains(errOut, "no blocked task to signal") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("signal with nothing blocked: exit %d: %q", code, errOut)
	}
}
