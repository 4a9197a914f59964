package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// noPiece fails when text holds 5 consecutive bytes of any form of a value.
func noPiece(t *testing.T, what, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		q, _ := json.Marshal(v)
		forms := []string{v, string(q[1 : len(q)-1]), base64.StdEncoding.EncodeToString([]byte(v)), url.QueryEscape(v)}
		for _, f := range forms {
			for i := 0; i+5 <= len(f); i++ {
				if strings.Contains(text, f[i:i+5]) {
					t.Fatalf("%s holds %q, a piece of a secret (form %q):\n%s", what, f[i:i+5], f, text)
				}
			}
		}
	}
}

// A worker command runs with an allowlisted environment: the variables of
// an env: secret store never reach it, whatever their prefix, and neither
// does wfrun's own configuration. Artifacts: stdout, stderr, show.
func TestWorkerEnvironmentIsAnAllowlist(t *testing.T) {
	// A store under LC_ (a prefix the locale settings share) or TMP keeps
	// its variables from the command as well as one under a name of its own.
	for _, prefix := range []string{"MYAPP_", "LC_WFS_", "TMP"} {
		t.Run(prefix, func(t *testing.T) {
			cliEnv(t)
			// Random letters: a word such as "secret" could be in the checkout's path,
			// which the worker sees in PWD.
			const unreferenced = "Zq8Mx3Vw7Kp2Nt6Rb4Yh"
			t.Setenv("WFRUN_STORE", "env:"+prefix)
			t.Setenv(prefix+"DB_PASSWORD", unreferenced)
			t.Setenv("OTHER_SERVICE_TOKEN", unreferenced+"-2")
			dir := t.TempDir()
			wf := filepath.Join(dir, "wf.json")
			if err := os.WriteFile(wf, []byte(`{"name":"w","tasks":[{"name":"env","taskReferenceName":"env"}]}`), 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := wfrun(t, "", "run", wf, "--worker", `env=printf '{"env":"%s","path":"%s"}' "$(env | tr '\n' ' ' | tr -d '"\\')" "$PATH"`)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got struct{ Env, Path string }
			if err := json.Unmarshal([]byte(out), &got); err != nil || got.Path == "" {
				t.Fatalf("worker output %s (%v)", out, err)
			}
			for _, name := range []string{prefix + "DB_PASSWORD", "OTHER_SERVICE_TOKEN", "WFRUN_STORE", "WFRUN_HOME"} {
				if strings.Contains(got.Env, name+"=") {
					t.Fatalf("the worker saw %s: %s", name, got.Env)
				}
			}
			noPiece(t, "stdout", out, unreferenced)
			noPiece(t, "stderr", errOut, unreferenced)
		})
	}
}

// A failing worker's stderr is cut for the reason only once it is masked:
// a value across the 4 KiB cut is never half shown (stderr, show).
func TestWorkerStderrMaskedBeforeCut(t *testing.T) {
	home := cliEnv(t)
	_ = home
	const secret = "Hb6Yt2Kc9Qz4Wp7Lm3Rv"
	mustRun(t, "", "secret", "set", "tok", "--value", secret)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	if err := os.WriteFile(wf, []byte(`{"name":"w","tasks":[{"name":"leaky","taskReferenceName":"leaky","retryCount":0,"inputParameters":{"t":"${workflow.secrets.tok}"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// More follows the value, so the masked stream is cut too.
	worker := `leaky=head -c 4080 /dev/zero | tr '\0' x >&2; sed 's/.*"t":"\([^"]*\)".*/\1/' >&2; head -c 300 /dev/zero | tr '\0' y >&2; exit 3`
	out, errOut, code := wfrun(t, "", "run", wf, "--worker", worker)
	if code != 1 || !strings.Contains(errOut, "worker command failed") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	noPiece(t, "stdout", out, secret)
	noPiece(t, "stderr", errOut, secret)
	ids := mustRun(t, "", "runs", "-o", "json")
	var runs []struct {
		ID string `json:"workflowId"`
	}
	if err := json.Unmarshal([]byte(ids), &runs); err != nil || len(runs) == 0 {
		t.Fatalf("runs: %s (%v)", ids, err)
	}
	noPiece(t, "show", mustRun(t, "", "show", runs[0].ID, "-o", "json"), secret)
}

// wfrun eval masks a value however the printed JSON spells it: with <, >
// and & (which json.Marshal would have escaped), and with non-ASCII
// characters the context file wrote as \uXXXX escapes (which the printed
// document keeps).
func TestEvalMasksEveryForm(t *testing.T) {
	dir := t.TempDir()
	ctx := filepath.Join(dir, "ctx.json")
	// Written by hand: the spelling of the file is the point.
	ctxDoc := `{"workflow":{"input":{}},"secrets":{
	  "html":"a<b>&c-credential-77",
	  "intl":"p\u00e4ssw\u00f6rd-\u00fcn\u00efcode-\u03a9",
	  "obj":{"k":"x<y>&z-credential-88"}}}`
	if err := os.WriteFile(ctx, []byte(ctxDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, `{"h":"x ${workflow.secrets.html} y","i":"${workflow.secrets.intl}","o":"${workflow.secrets.obj}","t":"in text ${workflow.secrets.obj} too"}`,
		"eval", "--doc", "-", "--context", ctx)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, v := range []string{"a<b>&c-credential-77", "p\u00e4ssw\u00f6rd-\u00fcn\u00efcode-\u03a9", "pässwörd-ünïcode-Ω", "x<y>&z-credential-88"} {
		noPiece(t, "eval output", out, v)
	}
	if !strings.Contains(out, `"x *** y"`) {
		t.Fatalf("eval output: %s", out)
	}
}

// `wfrun run` calls an API with an HTTP auth credential, waits on a HUMAN
// task and is killed with SIGKILL; `wfrun task complete` completes the task
// from another process and `wfrun resume` finishes the run, whose last call
// gets the credential echoed back. The resumed process masks it: stdout,
// stderr, show, and the raw runs.db.
func TestKill9CompleteResumeKeepsAuthMasked(t *testing.T) {
	home := cliEnv(t)
	const bearer = "Kx7Mv2Nq9Bw4Lz6Pr3Ty"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"youSent":"`+r.Header.Get("Authorization")+`","again":"`+bearer+`"}`)
	}))
	defer api.Close()
	mustRun(t, "", "secret", "set", "api_token", "--value", bearer)
	wf := filepath.Join(t.TempDir(), "auth_wait.json")
	def := `{"name":"auth_wait","tasks":[
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"uri":"` + api.URL + `/a","method":"GET","auth":{"type":"bearer","secret":"api_token"}}},
	  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
	  {"name":"echo","taskReferenceName":"echo","type":"HTTP","inputParameters":{"uri":"` + api.URL + `/b","method":"GET"}}],
	 "outputParameters":{"echo":"${echo.output.response.body}"}}`
	if err := os.WriteFile(wf, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, sc, _ := cliProcess(t, "run", wf)
	var log strings.Builder
	m := waitLine(t, sc, regexp.MustCompile(`run ([0-9a-f-]{36}) \(auth_wait\) RUNNING`), &log)
	runID := m[1]
	waitLine(t, sc, regexp.MustCompile(`task approve \(HUMAN\) waits for an external completion`), &log)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	done := exec.Command(os.Args[0], "task", "complete", runID, "approve", "--data", `{"ok":true}`)
	done.Env = append(os.Environ(), "WFRUN_TEST_AS_CLI=1")
	if out, err := done.CombinedOutput(); err != nil {
		t.Fatalf("task complete: %v: %s", err, out)
	}
	out, errOut, code := wfrun(t, "", "resume", runID)
	if code != 0 || !strings.Contains(out, `"***"`) {
		t.Fatalf("resume: exit %d: %s %s", code, out, errOut)
	}
	noPiece(t, "stdout", out, bearer)
	noPiece(t, "stderr", log.String()+errOut, bearer)
	noPiece(t, "show", mustRun(t, "", "show", runID, "-o", "json"), bearer)
	raw, err := os.ReadFile(filepath.Join(home, "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	noPiece(t, "runs.db", string(raw), bearer)
}
