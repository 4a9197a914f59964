package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redistest"
)

func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cliBackend prepares a home (and, for "redis", a real redis-server used
// for both secrets and runs) and returns a client to dump Redis, or nil.
func cliBackend(t *testing.T, backend string) (string, *redis.Client) {
	t.Helper()
	home := cliEnv(t)
	if backend != "redis" {
		return home, nil
	}
	addr := redistest.Start(t)
	t.Setenv("WFRUN_STORE", "redis://"+addr)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	return home, rdb
}

// transcript records every CLI invocation's stdout and stderr, for the
// leak check.
type transcript struct {
	t    *testing.T
	mu   sync.Mutex
	text map[string]string
}

func newTranscript(t *testing.T) *transcript { return &transcript{t: t, text: map[string]string{}} }

func (tr *transcript) run(wantCode int, args ...string) (string, string) {
	tr.t.Helper()
	out, errOut, code := wfrun(tr.t, "", args...)
	tr.add(strings.Join(args, " "), out, errOut)
	if code != wantCode {
		tr.t.Fatalf("wfrun %v: exit %d, want %d: %s", args, code, wantCode, errOut)
	}
	return out, errOut
}

func (tr *transcript) add(name, out, errOut string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.text["stdout of "+name] = out
	tr.text["stderr of "+name] = errOut
}

// cliLeakCheck scans every file under home (runs.db, secrets.db, key
// files), every Redis key, `wfrun runs` and `wfrun show` of every run, and
// the transcript for every value in its usual encodings.
func cliLeakCheck(t *testing.T, home string, rdb *redis.Client, tr *transcript, values ...string) {
	t.Helper()
	where := map[string]string{}
	_ = filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			where["file "+p] = string(b)
		}
		return nil
	})
	if rdb != nil {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, "*").Result()
		if err != nil || len(keys) == 0 {
			t.Fatalf("redis keys: %v %v", keys, err)
		}
		for _, k := range keys {
			d, err := rdb.Dump(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			where["redis "+k] = d
		}
	} else if _, ok := where["file "+filepath.Join(home, "runs.db")]; !ok {
		t.Fatalf("no runs.db under %s", home)
	}
	runs := mustRun(t, "", "runs", "-o", "json")
	where["runs"] = runs
	var list []struct {
		ID string `json:"workflowId"`
	}
	if err := json.Unmarshal([]byte(runs), &list); err != nil || len(list) == 0 {
		t.Fatalf("runs: %v %s", err, runs)
	}
	for _, r := range list {
		where["show "+r.ID] = mustRun(t, "", "show", r.ID, "-o", "json")
		where["show table "+r.ID] = mustRun(t, "", "show", r.ID)
	}
	tr.mu.Lock()
	for k, v := range tr.text {
		where[k] = v
	}
	tr.mu.Unlock()
	for name, text := range where {
		for _, v := range values {
			for _, f := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.URLEncoding.EncodeToString([]byte(v)),
				url.QueryEscape(v), hex.EncodeToString([]byte(v))} {
				if strings.Contains(text, f) {
					t.Errorf("%s holds a secret value (form %.8s…)", name, f)
				}
			}
		}
	}
}

// cliTokenServer: POST /token checks the app credentials and issues a new
// token per call; GET /api checks the latest token and echoes it.
func cliTokenServer(t *testing.T, keyID, keySecret string) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var issued []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			var in map[string]string
			if json.Unmarshal(body, &in) != nil || in["keyId"] != keyID || in["keySecret"] != keySecret || len(in) != 2 {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			tok := fmt.Sprintf("tok-%d-%s", len(issued)+1, randToken(12))
			issued = append(issued, tok)
			fmt.Fprintf(w, `{"token":%q,"expiresIn":3600}`, tok)
		case "/api":
			if len(issued) == 0 || r.Header.Get("Authorization") != "Bearer "+issued[len(issued)-1] {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			fmt.Fprintf(w, `{"youSent":%q}`, r.Header.Get("Authorization"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), issued...)
	}
}

// rotateTemplateCopy writes Orkes' template with only its endpoint
// placeholder replaced.
func rotateTemplateCopy(t *testing.T, endpoint string) string {
	t.Helper()
	b, err := os.ReadFile(workflows + "rotate_token.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<YOUR_TOKEN_API_ENDPOINT>")) {
		t.Fatal("rotate_token.json lost its placeholder")
	}
	p := filepath.Join(t.TempDir(), "rotate_token.json")
	if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte("<YOUR_TOKEN_API_ENDPOINT>"), []byte(endpoint)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The rotation template through the CLI, scheduled with --every: two runs
// leave the second token as version 2 with both in the history; a later
// run's bearer header carries it; nothing stored or printed holds a token
// or the app credentials.
func TestRunRotationTemplateEvery(t *testing.T) {
	for _, backend := range []string{"bolt", "redis"} {
		t.Run(backend, func(t *testing.T) {
			home, rdb := cliBackend(t, backend)
			tr := newTranscript(t)
			keyID, keySecret := "app-key-id-"+randToken(6), "app-key-secret-"+randToken(12)
			srv, issued := cliTokenServer(t, keyID, keySecret)
			tr.run(0, "secret", "set", "appKeyId", "--value", keyID)
			tr.run(0, "secret", "set", "appKeySecret", "--value", keySecret)
			wf := rotateTemplateCopy(t, srv.URL+"/token")
			tr.run(0, "validate", workflows+"rotate_token.json")

			out, errOut := tr.run(0, "run", wf, "--every", "50ms", "--max-runs", "2")
			toks := issued()
			if len(toks) != 2 {
				t.Fatalf("%d tokens issued: %s", len(toks), errOut)
			}
			if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 {
				t.Fatalf("stdout should hold one output line per run: %q", out)
			}
			if n := len(regexp.MustCompile(`scheduled run \d: [0-9a-f-]{36} COMPLETED`).FindAllString(errOut, -1)); n != 2 {
				t.Fatalf("%d summary lines: %s", n, errOut)
			}
			if !strings.Contains(errOut, "2 of 2 runs done") {
				t.Fatalf("stderr: %s", errOut)
			}

			meta, _ := tr.run(0, "secret", "get", "my_secret_holding_a_token", "-o", "json")
			var m struct {
				Version int `json:"version"`
			}
			if err := json.Unmarshal([]byte(meta), &m); err != nil || m.Version != 2 {
				t.Fatalf("secret metadata: %v %s", err, meta)
			}
			hist, _ := tr.run(0, "secret", "history", "my_secret_holding_a_token", "-o", "json")
			var h []struct {
				Version int `json:"version"`
			}
			if err := json.Unmarshal([]byte(hist), &h); err != nil || len(h) != 2 || h[0].Version != 2 || h[1].Version != 1 {
				t.Fatalf("history: %v %s", err, hist)
			}
			// Values only with --reveal (kept out of the leak transcript).
			revealed := mustRun(t, "", "secret", "history", "my_secret_holding_a_token", "--reveal", "-o", "json")
			if !strings.Contains(revealed, toks[0]) || !strings.Contains(revealed, toks[1]) {
				t.Fatal("history --reveal does not hold both tokens")
			}
			if got := mustRun(t, "", "secret", "get", "my_secret_holding_a_token", "--reveal"); strings.TrimSpace(got) != toks[1] {
				t.Fatal("the secret does not hold the second token")
			}

			later := filepath.Join(t.TempDir(), "later.json")
			os.WriteFile(later, []byte(`{"name":"use_token","tasks":[{"name":"call","taskReferenceName":"call","type":"HTTP",
			  "inputParameters":{"uri":"`+srv.URL+`/api","method":"GET",
			    "headers":{"Authorization":"Bearer ${workflow.secrets.my_secret_holding_a_token}"}}}],
			  "outputParameters":{"youSent":"${call.output.response.body.youSent}"}}`), 0o600)
			out, _ = tr.run(0, "run", later)
			var res struct {
				YouSent string `json:"youSent"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.YouSent != "Bearer ***" {
				t.Fatalf("later run output: %v %s", err, out)
			}
			cliLeakCheck(t, home, rdb, tr, toks[0], toks[1], keySecret, keyID)
		})
	}
}

// --every without a signal: --max-runs bounds it; failed runs do not stop
// the schedule and make the exit status 1; bad flags are usage errors.
func TestRunEveryMaxRunsAndUsage(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.json")
	os.WriteFile(ok, []byte(`{"name":"tick","tasks":[{"name":"n","taskReferenceName":"n","type":"INLINE",
	  "inputParameters":{"evaluatorType":"javascript","expression":"1+1"}}],"outputParameters":{"v":"${n.output.result}"}}`), 0o600)
	fail := filepath.Join(dir, "fail.json")
	os.WriteFile(fail, []byte(`{"name":"f","tasks":[{"name":"t","taskReferenceName":"t","type":"TERMINATE",
	  "inputParameters":{"terminationStatus":"FAILED","terminationReason":"nope"}}]}`), 0o600)

	start := time.Now()
	out, errOut, code := wfrun(t, "", "run", ok, "--every", "100ms", "--max-runs", "3", "-q")
	if code != 0 || strings.Count(out, `{"v":2}`) != 3 || strings.Count(errOut, "scheduled run") != 3 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("3 runs every 100ms took %s: the schedule did not wait", el)
	}
	out, errOut, code = wfrun(t, "", "run", fail, "--every", "10ms", "--max-runs", "2")
	if code != 1 || strings.Count(out, "\n") != 2 || strings.Count(errOut, "scheduled run") != 2 || !strings.Contains(errOut, "ended FAILED") {
		t.Fatalf("failing schedule: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, args := range [][]string{{"--max-runs", "2"}, {"--every", "0s"}, {"--every", "-1s"}, {"--every", "1s", "--max-runs", "-1"}, {"--every", "soon"}} {
		if _, errOut, code := wfrun(t, "", append([]string{"run", ok}, args...)...); code != 2 {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
}

func exitCode(t *testing.T, cmd *exec.Cmd, within time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("the process did not stop within %s", within)
		return -1
	}
}

// `wfrun run --every` in a child process stopped by real signals: SIGTERM
// between runs ends the schedule with status 0 (last run COMPLETED); SIGINT
// during a run interrupts it, leaves it RUNNING and resumable, status 1.
func TestRunEveryStopsOnSignal(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	tick := filepath.Join(dir, "tick.json")
	os.WriteFile(tick, []byte(`{"name":"tick","tasks":[{"name":"n","taskReferenceName":"n","type":"INLINE",
	  "inputParameters":{"evaluatorType":"javascript","expression":"'tock'"}}]}`), 0o600)

	cmd, sc, stdout := cliProcess(t, "run", tick, "--every", "4s")
	var log strings.Builder
	waitLine(t, sc, regexp.MustCompile(`scheduled run 1: .* COMPLETED`), &log)
	waitLine(t, sc, regexp.MustCompile(`scheduled run 2: .* COMPLETED .*next run at`), &log)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Drain stderr so the child never blocks on a full pipe.
	go func() {
		for sc.Scan() {
		}
	}()
	if code := exitCode(t, cmd, 10*time.Second); code != 0 {
		t.Fatalf("SIGTERM between runs: exit %d\n%s", code, log.String())
	}
	if n := strings.Count(stdout.String(), `"result":"tock"`); n != 2 {
		t.Fatalf("%d outputs on stdout: %s", n, stdout.String())
	}

	slow := filepath.Join(dir, "slow.json")
	os.WriteFile(slow, []byte(`{"name":"slow","tasks":[
	  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'first'"}},
	  {"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"6 seconds"}}],
	  "outputParameters":{"a":"${a.output.result}"}}`), 0o600)
	cmd, sc, _ = cliProcess(t, "run", slow, "--every", "1h")
	log.Reset()
	m := waitLine(t, sc, regexp.MustCompile(`run ([0-9a-f-]{36}) \(slow\) RUNNING`), &log)
	waitLine(t, sc, regexp.MustCompile(`task w \(WAIT\) waits until`), &log)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	restDone := make(chan struct{})
	go func() {
		for sc.Scan() {
			rest.WriteString(sc.Text() + "\n")
		}
		close(restDone)
	}()
	if code := exitCode(t, cmd, 10*time.Second); code != 1 {
		t.Fatalf("SIGINT during a run: exit %d", code)
	}
	<-restDone
	if !strings.Contains(rest.String(), "wfrun resume "+m[1]) || !strings.Contains(rest.String(), "interrupted") {
		t.Fatalf("stderr after SIGINT: %s", rest.String())
	}
	show := mustRun(t, "", "show", m[1], "-o", "json")
	if !strings.Contains(show, `"status": "RUNNING"`) {
		t.Fatalf("interrupted run should stay RUNNING: %s", show)
	}
	out, errOut, code := wfrun(t, "", "resume", m[1])
	if code != 0 || !strings.Contains(out, `"a": "first"`) {
		t.Fatalf("resume: exit %d: %s %s", code, out, errOut)
	}
}

// EXEC through the CLI: refused without --allow-exec (exit 2, saying how
// to enable it), run with it; the command sees the bundle's variable and
// file, its echo is masked, nothing leaks.
func TestRunAllowExec(t *testing.T) {
	home := cliEnv(t)
	tr := newTranscript(t)
	envVal, fileVal := "bundle-env-"+randToken(10), "bundle-file-"+randToken(10)
	bundle, _ := json.Marshal(map[string]any{
		"env_vars": []map[string]string{{"name": "DEPLOY_TOKEN", "value": envVal}},
		"files":    []map[string]string{{"path": "conf/deploy.key", "content": fileVal}},
	})
	tr.run(0, "secret", "set", "deploy_bundle", "--json", string(bundle))
	_, errOut := tr.run(2, "run", workflows+"exec_bundle.json")
	if !strings.Contains(errOut, "/tasks/0/type: task type EXEC is disabled") || !strings.Contains(errOut, "--allow-exec") {
		t.Fatalf("without --allow-exec: %s", errOut)
	}
	out, errOut := tr.run(0, "run", workflows+"exec_bundle.json", "--allow-exec")
	var res struct {
		Stdout   string `json:"stdout"`
		ExitCode int    `json:"exitCode"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout %s", out)
	}
	digest := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for _, want := range []string{"env-sha256=" + digest(envVal), "file-sha256=" + digest(fileVal), "env=***", "file=***", "mode=600"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("command output lacks %q: %s", want, res.Stdout)
		}
	}
	if !strings.Contains(errOut, "EXEC deploy stdout: env=***") {
		t.Errorf("progress should stream the masked command output: %s", errOut)
	}
	dirLine := regexp.MustCompile(`(?m)^dir=(\S+)$`).FindStringSubmatch(res.Stdout)
	if dirLine == nil {
		t.Fatalf("no dir line: %s", res.Stdout)
	}
	if _, err := os.Stat(dirLine[1]); !os.IsNotExist(err) {
		t.Fatalf("work directory %s still exists", dirLine[1])
	}
	cliLeakCheck(t, home, nil, tr, envVal, fileVal)
}
