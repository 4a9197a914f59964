package worker_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/leakscan"
	"github.com/wfrun/wfrun/store/bolt"
)

// lhwProcessWorkflows is how many generated workflows the process case
// runs (it costs a build of cmd/wfrun, seconds when cached).
const lhwProcessWorkflows = 10

// TestWorkerLeakHuntProcess is one seed of the hunt against `wfrun worker`
// as a process (cmd/wfrun built by the test): its secrets put with
// `wfrun secret set` into its own bolt store ($WFRUN_HOME), its scope given
// with --scope, its stdout and stderr scanned as its logs, its store file
// scanned raw. The server, the destination and the other host are the
// in-process hunt's.
func TestWorkerLeakHuntProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("leak hunt: not in -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cmd/wfrun")
	}
	began := time.Now()
	bin := filepath.Join(t.TempDir(), "wfrun")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/wfrun/wfrun/cmd/wfrun")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/wfrun: %v\n%s", err, out)
	}
	t.Logf("cmd/wfrun built in %s", time.Since(began).Round(time.Millisecond))
	logs := &lhwBuffer{}
	r := newLhwRun(logs)
	r.seed(t, 101, lhwProcessWorkflows, func(e *lhwEnv, secrets []leakscan.Secret) func() {
		home := filepath.Join(t.TempDir(), "home")
		env := []string{"WFRUN_HOME=" + home, "HOME=" + home, "PATH=" + os.Getenv("PATH")}
		for _, s := range secrets {
			set := exec.Command(bin, "secret", "set", s.Name, "--json", string(s.Value))
			set.Env = env
			if out, err := set.CombinedOutput(); err != nil {
				t.Fatalf("secret set %s: %v\n%s", s.Name, err, e.m.Scrub(out))
			} else if _, p := e.m.Find(out); p != nil {
				t.Errorf("wfrun secret set printed a value: %s", e.m.Scrub(out))
			}
		}
		e.storePath = filepath.Join(home, bolt.FileName)
		args := []string{"worker", "--server", e.serveURL + "/api", "--poll-timeout", "100ms", "--concurrency", "4",
			"--log-level", "debug", "--task", lhwTaskHTTP + "=HTTP", "--task", lhwTaskHTTPMeta + "=HTTP",
			"--task", lhwTaskExec + "=EXEC", "--task", lhwTaskRotate + "=UPDATE_SECRET",
			"--task", lhwTaskInline + "=INLINE", "--task", lhwTaskJQ + "=JSON_JQ_TRANSFORM"}
		for _, sc := range lhwPrincipalScopes {
			args = append(args, "--scope", sc)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = e.workerLog, e.workerLog
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			b, _ := e.workerLog.since(0)
			if strings.Contains(string(b), `"msg":"polling"`) {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("wfrun worker did not start:\n%s", e.m.Scrub(b))
			}
			time.Sleep(10 * time.Millisecond)
		}
		return func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("wfrun worker exit: %v", err)
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Error("wfrun worker did not stop on SIGTERM")
			}
		}
	})
	r.report(t, began)
}
