package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/testkit"
)

// TestServeSecretsAndGracefulStop runs `wfrun serve` as a process: a secret
// PUT through the Orkes API lands in the CLI's store, the token endpoint
// follows --auth, SIGTERM stops it cleanly, and no value reaches its log.
func TestServeSecretsAndGracefulStop(t *testing.T) {
	home := cliEnv(t)
	authFile := filepath.Join(t.TempDir(), "auth.yaml")
	if err := os.WriteFile(authFile, []byte("applications:\n  - keyId: ci\n    keySecret: ci-key-secret-0123456789\n    scopes: [\"*\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, sc, _ := cliProcess(t, "serve", "--addr", "127.0.0.1:0", "--auth", authFile, "--home", home)
	var log strings.Builder
	m := waitLine(t, sc, regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`), &log)
	if m == nil {
		t.Fatalf("no listening line:\n%s", log.String())
	}
	base := "http://" + m[1]
	resp, err := http.Post(base+"/api/token", "application/json", strings.NewReader(`{"keyId":"ci","keySecret":"ci-key-secret-0123456789"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(string(body))
	if resp.StatusCode != 200 || tok == nil {
		t.Fatalf("/api/token: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("PUT", base+"/api/secrets/deploy_key", strings.NewReader("served-value-31337"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Authorization", tok[1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %v %v", err, resp)
	}
	resp.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, log.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	if !strings.Contains(log.String(), "shutting down") {
		t.Errorf("no shutdown line:\n%s", log.String())
	}
	for _, v := range []string{"served-value-31337", "ci-key-secret-0123456789", tok[1]} {
		if strings.Contains(log.String(), v) {
			t.Errorf("serve log leaks %q:\n%s", v, log.String())
		}
	}
	out, errOut, code := wfrun(t, "", "secret", "get", "deploy_key", "--reveal")
	if code != 0 || !strings.Contains(out, "served-value-31337") {
		t.Errorf("secret get after serve: %d %q %q", code, out, errOut)
	}
}

// TestServeStopLeavesRunsResumable: SIGTERM stops `wfrun serve` at once even
// with a long poll waiting; the run it was executing stays RUNNING in the
// run store, and the next serve on the same home finishes it.
func TestServeStopLeavesRunsResumable(t *testing.T) {
	home := cliEnv(t)
	start := func() (*exec.Cmd, string, *bufio.Scanner) {
		cmd, sc, _ := cliProcess(t, "serve", "--addr", "127.0.0.1:0", "--home", home, "--takeover", "200ms")
		var log strings.Builder
		m := waitLine(t, sc, regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`), &log)
		if m == nil {
			t.Fatalf("serve did not start:\n%s", log.String())
		}
		return cmd, "http://" + m[1], sc
	}
	cmd, base, sc := start()
	def := `{"name":"waits","version":1,"schemaVersion":2,"tasks":[
	  {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"1 seconds"}},
	  {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'done'"}}],
	  "outputParameters":{"r":"${after.output.result}"}}`
	if st, body := testkit.HTTPCall(t, "POST", base+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, id := testkit.HTTPCall(t, "POST", base+"/api/workflow/waits", `{}`)
	go func() { _, _ = http.Get(base + "/api/tasks/poll/batch/nobody?timeout=30000") }()
	time.Sleep(100 * time.Millisecond)
	stopAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v", err)
	}
	if d := time.Since(stopAt); d > 5*time.Second {
		t.Errorf("serve took %s to stop with a long poll waiting", d)
	}
	_, base, _ = start()
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body = testkit.HTTPCall(t, "GET", base+"/api/workflow/"+id+"/status?includeOutput=true", "")
		if strings.Contains(body, `"COMPLETED"`) {
			break
		}
	}
	if !strings.Contains(body, `"COMPLETED"`) || !strings.Contains(body, `"r":"done"`) {
		t.Fatalf("the interrupted run after a restart: %s", body)
	}
}
