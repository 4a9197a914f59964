package main

import (
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/internal/redistest"
)

// Redis going away mid-run: one line that names the run and how to resume
// it, no driver chatter; once Redis is back, resume finishes the run.
func TestRedisDownMidRunSaysResume(t *testing.T) {
	cliEnv(t)
	srv := redistest.StartServer(t, redistest.Persistent())
	t.Setenv("WFRUN_STORE", "redis://"+srv.Addr())
	wf := writeFile(t, t.TempDir(), "wait.json", `{"name":"waits","tasks":[
	  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'a'"}},
	  {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"3s"}},
	  {"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'b'"}}],
	  "outputParameters":{"b":"${b.output.result}"}}`)
	cmd, sc, _ := cliProcess(t, "run", wf)
	var log strings.Builder
	id := waitLine(t, sc, regexp.MustCompile(`run (\S+) \(waits\) RUNNING`), &log)
	waitLine(t, sc, regexp.MustCompile(`task pause \(WAIT\) waits`), &log)
	srv.Stop()
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, log.String())
	}
	errOut := log.String()
	last := strings.Split(strings.TrimSpace(errOut), "\n")
	final := last[len(last)-1]
	if !strings.HasPrefix(final, "wfrun: ") || !strings.Contains(final, "wfrun resume "+id[1]) {
		t.Fatalf("final line %q does not say how to resume:\n%s", final, errOut)
	}
	for _, l := range last {
		if strings.HasPrefix(l, "redis:") || strings.Contains(l, "goroutine") {
			t.Errorf("driver noise without --verbose: %q", l)
		}
	}
	t.Logf("stderr when Redis went away:\n%s", errOut)
	srv.Restart()
	out, errOut2, code := cli(t, "", "resume", id[1])
	if code != 0 || !strings.Contains(out, `"b": "b"`) {
		t.Fatalf("resume after Redis came back: exit %d: %s %s", code, out, errOut2)
	}
}

// An unreachable Redis: one line without --verbose, the driver's own
// messages with it.
func TestUnreachableRedisOneLineUnlessVerbose(t *testing.T) {
	cliEnv(t)
	down := "redis://127.0.0.1:1"
	_, errOut, code := cli(t, "", "runs", "--store", down)
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "WFRUN_STORE") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	_, errOut, code = cli(t, "", "runs", "--store", down, "--verbose")
	if code != 1 || !strings.Contains(errOut, "connection pool") {
		t.Fatalf("--verbose: exit %d:\n%s", code, errOut)
	}
}
