//go:build unix

package tasks_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

const (
	exBundleToken = "bundle-token-9f8e7d6c5b4a"
	exFileSecret  = "-----BEGIN KEY-----\nfile-secret-line-one-abc123\nfile-secret-line-two-def456\n-----END KEY-----\n"
	exEnvSecret   = "explicit-env-secret-31415"
	exMasterKey   = "master-key-of-the-wfrun-process-2718"
)

// exEnv is a run over a real memory store holding one bundle.
func exEnv(t *testing.T) *rotEnv {
	t.Helper()
	raw := memory.New()
	bundle := store.Bundle{
		EnvVars: []store.BundleEnvVar{{Name: "BUNDLE_TOKEN", Value: exBundleToken}},
		Files:   []store.BundleFile{{Path: "conf/creds.pem", Content: exFileSecret}},
	}
	b, err := json.Marshal(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Put(context.Background(), &store.Secret{Name: "ci/deploy-bundle", Value: b}); err != nil {
		t.Fatal(err)
	}
	return newRotEnv(t, raw, store.LocalPrincipal)
}

func exRun(t *testing.T, e *rotEnv, input map[string]any) tasks.Result {
	t.Helper()
	b, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	req := &tasks.Request{WorkflowID: "wf", TaskID: "t", RefName: "exec_ref", TaskType: tasks.TypeExec, Input: b, Services: e.svc}
	return tasks.NewExec().Execute(context.Background(), req)
}

type exOutput struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exitCode"`
}

func exOut(t *testing.T, r tasks.Result) exOutput {
	t.Helper()
	var o exOutput
	if err := json.Unmarshal(r.Output, &o); err != nil {
		t.Fatalf("output %s: %v", r.Output, err)
	}
	return o
}

func exSha16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// exNoLeak fails if any secret value (or one of its lines) appears in the
// result or the logs.
func exNoLeak(t *testing.T, r tasks.Result, logs string) {
	t.Helper()
	res, _ := json.Marshal(r)
	for _, v := range []string{exBundleToken, exEnvSecret, exMasterKey, "file-secret-line-one-abc123", "file-secret-line-two-def456"} {
		if strings.Contains(string(res), v) {
			t.Errorf("result leaks %q: %s", v[:6], res)
		}
		if strings.Contains(logs, v) {
			t.Errorf("logs leak %q", v[:6])
		}
	}
}

func TestExecBundleEnvAndFile(t *testing.T) {
	t.Setenv("WFRUN_MASTER_KEY", exMasterKey)
	e := exEnv(t)
	script := `echo "dir=$PWD"; echo "home=$HOME"; echo "token=$BUNDLE_TOKEN"; echo "mine=$MINE"; ` +
		`printf %s "$BUNDLE_TOKEN" | sha256sum | cut -c1-16; sha256sum conf/creds.pem | cut -c1-16; ` +
		`stat -c 'mode=%a' conf/creds.pem; stat -c 'dirmode=%a' .; ` +
		`env | grep -c WFRUN_MASTER_KEY || true; echo "plain=$PLAIN"; cat conf/creds.pem; echo "done" >&2`
	r := exRun(t, e, map[string]any{
		"command": []string{"sh", "-c", script},
		"env":     map[string]any{"MINE": exEnvSecret, "PLAIN": 42},
		"bundles": []string{"ci/deploy-bundle"},
	})
	if r.Status != tasks.Completed {
		t.Fatalf("%s: %s (%s)", r.Status, r.Reason, r.Output)
	}
	o := exOut(t, r)
	lines := strings.Split(o.Stdout, "\n")
	if len(lines) < 11 {
		t.Fatalf("stdout too short: %q", o.Stdout)
	}
	dir := strings.TrimPrefix(lines[0], "dir=")
	if !strings.Contains(dir, "wfrun-exec-") || lines[1] != "home="+dir {
		t.Fatalf("work dir / HOME: %q %q", lines[0], lines[1])
	}
	// The command saw the exact values (hash prefixes prove it) and its
	// echo of them is masked.
	want := []string{"token=***", "mine=***", exSha16(exBundleToken), exSha16(exFileSecret), "mode=600", "dirmode=700", "0", "plain=42", "***"}
	for i, w := range want {
		if lines[2+i] != w {
			t.Fatalf("stdout line %d = %q, want %q\n%s", 2+i, lines[2+i], w, o.Stdout)
		}
	}
	if o.Stderr != "done\n" || o.ExitCode != 0 {
		t.Fatalf("stderr %q exit %d", o.Stderr, o.ExitCode)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("work directory still there: %v", err)
	}
	logs := e.logText()
	if !strings.Contains(logs, "EXEC exec_ref stdout: token=***") || !strings.Contains(logs, "EXEC exec_ref stderr: done") {
		t.Fatalf("streamed lines missing:\n%s", logs)
	}
	exNoLeak(t, r, logs)
}

func TestExecRefusesEscapingPaths(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := []string{"sh", "-c", "touch " + marker}
	for _, p := range []string{"../x", "a/../../x", "/etc/x", "", ".", "a/./../../etc/passwd"} {
		t.Run(p, func(t *testing.T) {
			e := exEnv(t)
			r := exRun(t, e, map[string]any{"command": cmd, "files": map[string]string{p: "content-1234"}})
			if r.Status != tasks.FailedTerminal {
				t.Fatalf("%s: %s", r.Status, r.Reason)
			}
			if p != "" && !strings.Contains(r.Reason, strconv.Quote(p)) {
				t.Fatalf("reason %q does not name the path", r.Reason)
			}
		})
	}
	// The same checks hold for a bundle's files.
	raw := memory.New()
	if _, err := raw.Put(context.Background(), &store.Secret{Name: "bad-bundle", Value: json.RawMessage(`{"files":[{"path":"../../etc/cron.d/x","content":"bundle-content-5678"}]}`)}); err != nil {
		t.Fatal(err)
	}
	e := newRotEnv(t, raw, store.LocalPrincipal)
	r := exRun(t, e, map[string]any{"command": cmd, "bundles": []string{"bad-bundle"}})
	if r.Status != tasks.FailedTerminal || !strings.Contains(r.Reason, `"../../etc/cron.d/x"`) || !strings.Contains(r.Reason, `"bad-bundle"`) {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the command ran although a path was refused")
	}
	if err := tasks.CheckExecPath("/etc/x"); !errors.Is(err, tasks.ErrUnsafePath) {
		t.Fatalf("CheckExecPath: %v", err)
	}
	if err := tasks.CheckExecPath("a/../b"); err != nil {
		t.Fatalf("a/../b stays inside: %v", err)
	}
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	e := exEnv(t)
	start := time.Now()
	r := exRun(t, e, map[string]any{
		// The shell starts a child sleep, prints its pid, and waits for it.
		"command":        []string{"sh", "-c", "sleep 60 & echo $!; wait"},
		"timeoutSeconds": 0.5,
	})
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("timeout took %s", took)
	}
	if r.Status != tasks.Failed || !strings.Contains(r.Reason, "timed out") {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	o := exOut(t, r)
	if o.ExitCode != -1 {
		t.Fatalf("exitCode %d", o.ExitCode)
	}
	exWaitGone(t, o.Stdout)
}

// exAlive reports whether pid is a live (not zombie) process.
func exAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestExecNonZeroExit(t *testing.T) {
	e := exEnv(t)
	r := exRun(t, e, map[string]any{
		"command": []string{"sh", "-c", `echo out; echo "err $MINE" >&2; exit 3`},
		"env":     map[string]string{"MINE": exEnvSecret},
	})
	if r.Status != tasks.Failed || !strings.Contains(r.Reason, "code 3") {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	o := exOut(t, r)
	if o.ExitCode != 3 || o.Stdout != "out\n" || o.Stderr != "err ***\n" {
		t.Fatalf("%+v", o)
	}
	exNoLeak(t, r, e.logText())
}

func TestExecNoShellUnlessAsked(t *testing.T) {
	e := exEnv(t)
	// Without a shell, "$HOME; echo x" is one literal argument.
	r := exRun(t, e, map[string]any{"command": []string{"echo", "$HOME; echo injected"}})
	if r.Status != tasks.Completed {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	if o := exOut(t, r); o.Stdout != "$HOME; echo injected\n" {
		t.Fatalf("stdout %q", o.Stdout)
	}
}

func TestExecBadInput(t *testing.T) {
	e := exEnv(t)
	cases := []struct {
		name  string
		input map[string]any
		want  string
	}{
		{"no command", map[string]any{}, "command"},
		{"empty command", map[string]any{"command": []string{}}, "command"},
		{"command not a list", map[string]any{"command": "ls -l"}, "command"},
		{"unknown field", map[string]any{"command": []string{"true"}, "cmd": 1}, `"cmd"`},
		{"bad env name", map[string]any{"command": []string{"true"}, "env": map[string]string{"A=B": "x"}}, `"A=B"`},
		{"bad timeout", map[string]any{"command": []string{"true"}, "timeoutSeconds": -1}, "timeoutSeconds"},
		{"missing bundle", map[string]any{"command": []string{"true"}, "bundles": []string{"nope"}}, `"nope"`},
		{"not found", map[string]any{"command": []string{"/nonexistent/wfrun-binary"}}, "/nonexistent/wfrun-binary"},
		{"duplicate file", map[string]any{"command": []string{"true"}, "bundles": []string{"ci/deploy-bundle"}, "files": map[string]string{"conf/creds.pem": "x-1234"}}, "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := exRun(t, e, c.input)
			if r.Status != tasks.FailedTerminal || !strings.Contains(r.Reason, c.want) {
				t.Fatalf("%s: %q (want %s)", r.Status, r.Reason, c.want)
			}
		})
	}
	// A bundle secret of another shape is refused by name.
	if _, err := e.raw.Put(context.Background(), &store.Secret{Name: "not-a-bundle", Value: json.RawMessage(`{"token":"abc-12345"}`)}); err != nil {
		t.Fatal(err)
	}
	r := exRun(t, e, map[string]any{"command": []string{"true"}, "bundles": []string{"not-a-bundle"}})
	if r.Status != tasks.FailedTerminal || !strings.Contains(r.Reason, `"not-a-bundle" is not a bundle`) || strings.Contains(r.Reason, "abc-12345") {
		t.Fatalf("%s: %q", r.Status, r.Reason)
	}
}

func TestExecValidate(t *testing.T) {
	x := tasks.NewExec()
	if errs := x.Validate(json.RawMessage(`{"inputParameters":{"command":["true"],"files":{"a/b":"c"}}}`)); len(errs) != 0 {
		t.Fatalf("valid: %v", errs)
	}
	if errs := x.Validate(json.RawMessage(`{"inputParameters":{"command":["true"],"files":{"../x":"c"}}}`)); len(errs) != 1 || !strings.Contains(errs[0].Error(), `"../x"`) {
		t.Fatalf("escaping path: %v", errs)
	}
	if errs := x.Validate(json.RawMessage(`{"inputParameters":{"command":["sh"],"env":{"T":"${workflow.secrets.t}"},"files":{"/etc/x":"c"}}}`)); len(errs) != 1 {
		t.Fatalf("absolute path next to an expression: %v", errs)
	}
	if errs := x.Validate(json.RawMessage(`{"inputParameters":{}}`)); len(errs) != 1 || !strings.Contains(errs[0].Error(), "command") {
		t.Fatalf("no command: %v", errs)
	}
}

func TestExecOnlyWhenRegistered(t *testing.T) {
	r := tasks.NewRegistry()
	if _, ok := r.Lookup(tasks.TypeExec); ok {
		t.Fatal("EXEC present in a new registry")
	}
	tasks.RegisterExec(r, tasks.WithExecTimeout(time.Minute))
	if _, ok := r.Lookup(tasks.TypeExec); !ok {
		t.Fatal("RegisterExec did not register EXEC")
	}
}

func TestExecOutputLimit(t *testing.T) {
	e := exEnv(t)
	req := &tasks.Request{RefName: "big", Input: json.RawMessage(`{"command":["sh","-c","head -c 100000 /dev/zero | tr '\\0' a"]}`), Services: e.svc}
	r := tasks.NewExec(tasks.WithExecOutputLimit(1000)).Execute(context.Background(), req)
	if r.Status != tasks.Completed {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	var o map[string]any
	if err := json.Unmarshal(r.Output, &o); err != nil {
		t.Fatal(err)
	}
	// The first 1 000 bytes, marked cut.
	if o["stdout"] != strings.Repeat("a", 1000)+"…" || o["truncated"] != true {
		t.Fatalf("stdout %d bytes, truncated %v", len(o["stdout"].(string)), o["truncated"])
	}
}

// FuzzCheckExecPath: an accepted path always lands strictly inside the
// work directory, lexically.
func FuzzCheckExecPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "a/../../x", "/etc/x", ".", "", "a/./b/../c", "..a", "a/..", `a\..\..\x`, "./x", "x/"} {
		f.Add(s)
	}
	const dir = "/work/dir"
	f.Fuzz(func(t *testing.T, p string) {
		if err := tasks.CheckExecPath(p); err != nil {
			if !errors.Is(err, tasks.ErrUnsafePath) {
				t.Fatalf("error %v is not ErrUnsafePath", err)
			}
			return
		}
		if j := filepath.Join(dir, p); !strings.HasPrefix(j, dir+"/") {
			t.Fatalf("%q accepted but resolves to %q", p, j)
		}
	})
}

// ExampleRegisterExec enables EXEC and runs a command that reads a secret
// from its environment; its output comes back masked.
func ExampleRegisterExec() {
	r := tasks.NewRegistry()
	tasks.RegisterExec(r, tasks.WithExecTimeout(30*time.Second))
	task, _ := r.Lookup(tasks.TypeExec)

	m := masking.New()
	m.Register("s3cr3t-api-key") // the engine registers resolved secrets
	in := `{"command":["sh","-c","echo key=$API_KEY; ls"],"env":{"API_KEY":"s3cr3t-api-key"},"files":{"config/app.ini":"[app]\n"}}`
	res := task.Execute(context.Background(), &tasks.Request{RefName: "deploy", Input: json.RawMessage(in), Services: &tasks.Services{Masker: m}})
	fmt.Println(res.Status, string(res.Output))
	// Output:
	// COMPLETED {"exitCode":0,"stderr":"","stdout":"key=***\nconfig\n"}
}

func TestExecCancelKillsProcessGroup(t *testing.T) {
	e := exEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	req := &tasks.Request{RefName: "c", Input: json.RawMessage(`{"command":["sh","-c","sleep 60 & echo $!; wait"]}`), Services: e.svc}
	r := tasks.NewExec().Execute(ctx, req)
	if r.Status != tasks.Failed || !strings.Contains(r.Reason, "cancelled") {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	exWaitGone(t, exOut(t, r).Stdout)
}

// A command that exits 0 but leaves a background child holding stdout
// completes (after the wait delay) and the child is killed.
func TestExecBackgroundChildDoesNotHang(t *testing.T) {
	e := exEnv(t)
	start := time.Now()
	r := exRun(t, e, map[string]any{"command": []string{"sh", "-c", "sleep 60 & echo $!"}})
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("took %s", took)
	}
	if r.Status != tasks.Completed {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	exWaitGone(t, exOut(t, r).Stdout)
	if !strings.Contains(e.logText(), "background process") {
		t.Fatalf("no note in the logs:\n%s", e.logText())
	}
}

func exWaitGone(t *testing.T, pidText string) {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(pidText))
	if err != nil {
		t.Fatalf("child pid %q: %v", pidText, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for exAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A command line is readable by every user of the host (/proc/PID/cmdline,
// ps): a secret in argv is refused before anything runs, whether the
// definition puts a ${workflow.secrets.X} (or $<…>) in the command, which
// arrives resolved, or a bundle's value is written in it. Secrets reach a
// command through env, files and bundles.
func TestExecRefusesSecretInArgv(t *testing.T) {
	for _, tc := range []struct {
		name, defCommand string
		argv             func(dir string) []string
	}{
		{"resolved reference as an argument", `["sh","-c","touch /x/ran","${workflow.secrets.tok}"]`, func(dir string) []string {
			return []string{"sh", "-c", "touch " + dir + "/ran", exEnvSecret}
		}},
		{"reference inside a shell script", `["sh","-c","touch /x/ran; curl -H 'Authorization: Bearer $<workflow.secrets.tok>' x"]`, func(dir string) []string {
			return []string{"sh", "-c", "touch " + dir + "/ran; curl -H 'Authorization: Bearer " + exEnvSecret + "' x"}
		}},
		{"a bundle's value", "", func(dir string) []string {
			return []string{"sh", "-c", "touch " + dir + "/ran", "sh", "--token=" + exBundleToken}
		}},
		{"a bundle's file", "", func(dir string) []string {
			return []string{"sh", "-c", "touch " + dir + "/ran", "sh", exFileSecret}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exEnv(t)
			e.svc.Masker.Register(exEnvSecret) // as the engine's resolution does
			dir := t.TempDir()
			in, err := json.Marshal(map[string]any{"command": tc.argv(dir), "bundles": []string{"ci/deploy-bundle"}})
			if err != nil {
				t.Fatal(err)
			}
			req := &tasks.Request{WorkflowID: "wf", TaskID: "t", RefName: "exec_ref", TaskType: tasks.TypeExec, Input: in, Services: e.svc}
			if tc.defCommand != "" {
				req.Def = json.RawMessage(`{"type":"EXEC","inputParameters":{"command":` + tc.defCommand + `,"bundles":["ci/deploy-bundle"]}}`)
				if errs := tasks.NewExec().Validate(req.Def); len(errs) != 1 || !strings.Contains(errs[0].Error(), "inputParameters.command") {
					t.Errorf("Validate: %v, want the command refused", errs)
				}
			}
			r := tasks.NewExec().Execute(context.Background(), req)
			if r.Status != tasks.FailedTerminal || !strings.Contains(r.Reason, "command") {
				t.Fatalf("%s: %q, want a terminal failure about the command", r.Status, r.Reason)
			}
			if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
				t.Fatal("the command ran with a secret in its argv")
			}
			exNoLeak(t, r, e.logText())
		})
	}
	// A command that names the bundle's variable and file, and plain
	// settings, still runs.
	e := exEnv(t)
	def := json.RawMessage(`{"type":"EXEC","inputParameters":{"command":["sh","-c","test -n \"$BUNDLE_TOKEN\" && test -f conf/creds.pem","eu-west-1"],"env":{"REGION":"eu-west-1"},"bundles":["ci/deploy-bundle"]}}`)
	if errs := tasks.NewExec().Validate(def); len(errs) != 0 {
		t.Fatalf("Validate: %v", errs)
	}
	in := json.RawMessage(`{"command":["sh","-c","test -n \"$BUNDLE_TOKEN\" && test -f conf/creds.pem","eu-west-1"],"env":{"REGION":"eu-west-1"},"bundles":["ci/deploy-bundle"]}`)
	r := tasks.NewExec().Execute(context.Background(), &tasks.Request{RefName: "exec_ref", TaskType: tasks.TypeExec, Def: def, Input: in, Services: e.svc})
	if r.Status != tasks.Completed {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
}
