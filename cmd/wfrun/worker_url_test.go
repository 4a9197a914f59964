package main

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestWorkerLogsNoServerPassword: a --server URL with a password in its
// userinfo (basic auth for a proxy in front of Conductor) shows in the
// worker's log redacted, in its start line and in the poll errors that
// follow (nothing listens on the port).
func TestWorkerLogsNoServerPassword(t *testing.T) {
	cliEnv(t)
	const password = "ProxyPw-77aa88bb"
	cmd, sc, _ := cliProcess(t, "worker", "--server", "http://svc:"+password+"@127.0.0.1:9/api", "--task", "t=HTTP", "--poll-timeout", "100ms")
	var log strings.Builder
	line := waitLine(t, sc, regexp.MustCompile(`"msg":"polling"`), &log)
	if line == nil {
		t.Fatalf("worker did not start:\n%s", log.String())
	}
	if !strings.Contains(log.String(), `svc:xxxxx@127.0.0.1:9`) {
		t.Errorf("start line does not name the server, redacted:\n%s", log.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	_ = cmd.Wait()
	if strings.Contains(log.String(), password) {
		t.Errorf("worker log shows the server's password:\n%s", log.String())
	}
}
