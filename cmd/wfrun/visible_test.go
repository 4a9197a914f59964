package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/redistest"
)

// cliOutput runs the CLI as a process of its own and returns its stdout.
func cliOutput(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WFRUN_TEST_AS_CLI=1")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), &cliError{ee, string(ee.Stderr)}
	}
	return string(out), err
}

type cliError struct {
	*exec.ExitError
	stderr string
}

func (e *cliError) Error() string { return e.ExitError.Error() + ": " + e.stderr }

// A worker command that keeps running shows in `wfrun show` from another
// process: IN_PROGRESS, with its start time and its input as stored (the
// secret reference literal, the value nowhere in the output), then
// COMPLETED once the worker ends. On the default bolt store (whose file the
// running process holds and hands over) and on Redis.
func TestRunningWorkerShownByAnotherProcess(t *testing.T) {
	for _, store := range []string{"bolt", "redis"} {
		t.Run("store="+store, func(t *testing.T) {
			cliEnv(t)
			if store == "redis" {
				t.Setenv("WFRUN_STORE", "redis://"+redistest.Start(t)+"/0")
			}
			const value = "tok-shown-7d2c9e"
			mustRun(t, "", "secret", "set", "api_token", "--value", value)
			dir := t.TempDir()
			wf, gate := filepath.Join(dir, "slow.json"), filepath.Join(dir, "gate")
			if err := os.WriteFile(wf, []byte(`{"name":"slowwork","tasks":[
			  {"name":"slow","taskReferenceName":"slow","inputParameters":{"auth":"Bearer ${workflow.secrets.api_token}","n":1}}]}`), 0o600); err != nil {
				t.Fatal(err)
			}
			worker := "slow=while [ ! -e " + gate + " ]; do sleep 0.02; done; cat >/dev/null; echo '{\"ok\":true}'"
			cmd, sc, stdout := cliProcess(t, "run", wf, "--worker", worker)
			var log strings.Builder
			runID := waitLine(t, sc, regexp.MustCompile(`run ([0-9a-f-]{36}) \(slowwork\) RUNNING`), &log)[1]
			go func() {
				for sc.Scan() {
				}
			}()

			type shown struct {
				Status string `json:"status"`
				Tasks  []struct {
					Ref       string `json:"referenceTaskName"`
					Status    string `json:"status"`
					StartTime int64  `json:"startTime"`
					Input     struct {
						Auth string `json:"auth"`
						N    int    `json:"n"`
					} `json:"inputData"`
				} `json:"tasks"`
			}
			show := func() (shown, string) {
				out, err := cliOutput(t, "show", runID, "-o", "json")
				if err != nil {
					t.Fatalf("wfrun show from another process: %v", err)
				}
				if strings.Contains(out, value) {
					t.Fatalf("wfrun show printed the secret value:\n%s", out)
				}
				var s shown
				if err := json.Unmarshal([]byte(out), &s); err != nil {
					t.Fatalf("show -o json: %v: %s", err, out)
				}
				return s, out
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				s, out := show()
				if len(s.Tasks) == 1 && s.Tasks[0].Status == "IN_PROGRESS" {
					task := s.Tasks[0]
					if s.Status != "RUNNING" || task.Ref != "slow" || task.StartTime == 0 ||
						task.Input.Auth != "Bearer ${workflow.secrets.api_token}" || task.Input.N != 1 {
						t.Fatalf("the running task as shown:\n%s", out)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the running worker never showed IN_PROGRESS:\n%s", out)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if out, err := cliOutput(t, "runs"); err != nil || !regexp.MustCompile(runID+`.*RUNNING`).MatchString(out) {
				t.Fatalf("wfrun runs from another process: %v\n%s", err, out)
			}
			if err := os.WriteFile(gate, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("wfrun run: %v\n%s", err, log.String())
			}
			var output struct{ OK bool }
			if err := json.Unmarshal(stdout.Bytes(), &output); err != nil || !output.OK {
				t.Fatalf("wfrun run printed %q, want the worker's output", stdout)
			}
			s, out := show()
			if s.Status != "COMPLETED" || len(s.Tasks) != 1 || s.Tasks[0].Status != "COMPLETED" ||
				s.Tasks[0].Input.Auth != "Bearer ${workflow.secrets.api_token}" {
				t.Fatalf("after the worker ended:\n%s", out)
			}
		})
	}
}

// `wfrun runs` says which journal entries the run store kept aside as
// damaged: the file, the key, and why the run is unknown when the entry's
// header (which holds the run id) is damaged. The listing itself works.
func TestRunsWarnsOfDamagedJournalEntry(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "runs") // creates runs.db
	path := filepath.Join(home, "runs.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := append([]byte{0}, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("damaged"))
		if err != nil {
			return err
		}
		return b.Put(key, []byte{'c', 0xff})
	})
	if err2 := db.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := wfrun(t, "", "runs")
	if code != 0 || !strings.Contains(out, "RUN") {
		t.Fatalf("runs: exit %d: %s %s", code, out, errOut)
	}
	want := []string{"warning: run store " + path, fmt.Sprintf("key %x", key), "journal key 0000000000000009", "so the run it belongs to is unknown"}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Fatalf("runs stderr lacks %q:\n%s", w, errOut)
		}
	}
	t.Logf("runs stderr: %s", errOut)
	if strings.Count(errOut, "\n") != 1 {
		t.Fatalf("want one warning line:\n%s", errOut)
	}
}

// `wfrun run` killed (SIGKILL) while its worker command runs has already
// written the task IN_PROGRESS; `wfrun resume` runs the same attempt again
// (no retry record) and completes the run.
func TestKillWhileWorkerRunsThenResume(t *testing.T) {
	home := cliEnv(t)
	dir := t.TempDir()
	wf, gate, counter := filepath.Join(dir, "slow.json"), filepath.Join(dir, "gate"), filepath.Join(home, "..", "count")
	if err := os.WriteFile(wf, []byte(`{"name":"slowwork","tasks":[
	  {"name":"slow","taskReferenceName":"slow","inputParameters":{"n":1}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(gate, nil, 0o600) }) // the killed run's worker ends too
	// The loop also ends when the test's directory is gone: the gate written
	// at cleanup may be removed with it before a killed run's worker looks.
	worker := "slow=echo ran >> " + counter + "; while [ ! -e " + gate + " ] && [ -d " + dir + " ]; do sleep 0.02; done; cat >/dev/null; echo '{\"ok\":true}'"
	cmd, sc, _ := cliProcess(t, "run", wf, "--worker", worker)
	var log strings.Builder
	runID := waitLine(t, sc, regexp.MustCompile(`run ([0-9a-f-]{36}) \(slowwork\) RUNNING`), &log)[1]
	go func() {
		for sc.Scan() {
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, err := cliOutput(t, "show", runID, "-o", "json")
		if err == nil && strings.Contains(out, `"status": "IN_PROGRESS"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running worker never showed IN_PROGRESS: %v\n%s", err, out)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := wfrun(t, "", "resume", runID, "--worker", worker)
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("resume: exit %d: %s %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(counter); strings.Count(string(b), "ran") != 2 {
		t.Fatalf("the worker ran %d times, want 2 (killed, resumed)", strings.Count(string(b), "ran"))
	}
	var run struct {
		Status string `json:"status"`
		Tasks  []struct {
			Status     string `json:"status"`
			RetryCount int    `json:"retryCount"`
		} `json:"tasks"`
	}
	show := mustRun(t, "", "show", runID, "-o", "json")
	if err := json.Unmarshal([]byte(show), &run); err != nil || run.Status != "COMPLETED" || len(run.Tasks) != 1 ||
		run.Tasks[0].Status != "COMPLETED" || run.Tasks[0].RetryCount != 0 {
		t.Fatalf("after resume: %v\n%s", err, show)
	}
}
