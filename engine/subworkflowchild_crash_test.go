//go:build unix

package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// subCrashDef: a worker task, a SUB_WORKFLOW whose inline child runs two
// worker tasks, a worker task.
const subCrashDef = `{"name":"sub_crash","tasks":[
  {"name":"step","taskReferenceName":"a","inputParameters":{"ref":"a"}},
  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"sub_crash_child","workflowDefinition":
    {"name":"sub_crash_child","tasks":[
      {"name":"step","taskReferenceName":"c1","inputParameters":{"ref":"c1"}},
      {"name":"step","taskReferenceName":"c2","inputParameters":{"ref":"c2"}}]}}},
  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`

// TestKillAtEverySubWorkflowWrite: a process running a parent with a
// SUB_WORKFLOW task, killed just before or just after each of its writes
// (the parent's and the child's), leaves runs that a resume of the parent
// finishes with exactly one child: the one its SUB_WORKFLOW record names.
// In particular, killed between the child's first write and the record's
// write naming it, the resumed parent takes that child over (it derives
// the same id) rather than starting another, and no stored record names a
// run that is not stored.
func TestKillAtEverySubWorkflowWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	count := &countingStore{Store: runstore.NewMemory()}
	e := crashEngine(t, count, filepath.Join(t.TempDir(), "log"))
	engine.WithoutEarlyWrites(e) // as TestCrashChild: the durable points only
	def, err := e.Parse([]byte(subCrashDef))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Start(context.Background(), def, nil); err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("reference run: %v %+v", err, res)
	}
	total := count.n
	for k := 1; k <= total; k++ {
		for _, before := range []bool{true, false} {
			t.Run(fmt.Sprintf("write=%d/before=%v", k, before), func(t *testing.T) { subCrashAndResume(t, k, before) })
		}
	}
}

func subCrashAndResume(t *testing.T, k int, before bool) {
	ctx := context.Background()
	dir := t.TempDir()
	db, logPath, runID := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log"), "sub-crash-run"
	child := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.v")
	child.Env = append(os.Environ(), "WFRUN_CRASH_DB="+db, "WFRUN_CRASH_AT="+strconv.Itoa(k), "WFRUN_CRASH_LOG="+logPath,
		"WFRUN_CRASH_DEF="+subCrashDef, "WFRUN_CRASH_RUN="+runID, "WFRUN_CRASH_BEFORE="+map[bool]string{true: "1"}[before])
	out, err := child.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
	case bytes.Contains(out, []byte("child was not killed (write")):
		// Fewer writes than the reference run made (a task written
		// early while it runs, visible.go, depends on timing): the run
		// ended; what follows checks it all the same.
	default:
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	named := func(when string) []string {
		t.Helper()
		doc, _, err := rs.Load(ctx, runID)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var d struct {
			Tasks []struct {
				Ref           string `json:"referenceTaskName"`
				SubWorkflowID string `json:"subWorkflowId"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tk := range d.Tasks {
			if tk.SubWorkflowID == "" {
				continue
			}
			if _, _, err := rs.Load(ctx, tk.SubWorkflowID); err != nil {
				t.Fatalf("%s: %s names child %s: %v", when, tk.Ref, tk.SubWorkflowID, err)
			}
			out = append(out, tk.SubWorkflowID)
		}
		return out
	}
	if _, _, err := rs.Load(ctx, runID); errors.Is(err, runstore.ErrNotFound) {
		if k == 1 && before {
			return // killed before the run's first write
		}
		t.Fatalf("run lost after write %d", k)
	}
	named("after the crash")
	e := crashEngine(t, rs, logPath)
	res, err := e.Resume(ctx, runID)
	if errors.Is(err, engine.ErrNotRunning) {
		// Killed once the parent was archived: nothing to resume.
		res, err = &engine.Result{Status: engine.StatusCompleted}, nil
	}
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume after write %d: %v %+v", k, err, res)
	}
	children := named("after the resume")
	kids, err := rs.List(ctx, runstore.ListOptions{ParentID: runID})
	if err != nil {
		t.Fatal(err)
	}
	if len(children) != 1 || len(kids) != 1 || kids[0].ID != children[0] || kids[0].Status != engine.StatusCompleted {
		t.Fatalf("the parent names children %v; the store holds its children %+v; want one, COMPLETED, the one named", children, kids)
	}
}

// subRetryCrashDef: a worker task that fails the first time, retried once
// after 1 s, and a SUB_WORKFLOW task whose child fails the first time (its
// worker task, not retried), retried once after 1 s.
const subRetryCrashDef = `{"name":"sub_retry_crash","tasks":[
  {"name":"step","taskReferenceName":"a","inputParameters":{"ref":"a"}},
  {"name":"once","taskReferenceName":"o","retryCount":1,"inputParameters":{"ref":"o"},
   "taskDefinition":{"name":"once","retryCount":1,"retryLogic":"FIXED","retryDelaySeconds":1}},
  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":1,
   "taskDefinition":{"name":"sub","retryCount":1,"retryLogic":"FIXED","retryDelaySeconds":1},
   "subWorkflowParam":{"name":"sub_retry_crash_child","workflowDefinition":
    {"name":"sub_retry_crash_child","tasks":[{"name":"once","taskReferenceName":"c1","retryCount":0,"inputParameters":{"ref":"c1"}}]}}},
  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`

// TestKillAtEveryRetryDelayWrite: a process whose worker task and whose
// SUB_WORKFLOW task's child failed, killed just before or just after each
// of its writes, leaves a run that a resume finishes: each retry, stored
// SCHEDULED with its delay (callbackAfterSeconds) as soon as the attempt
// failed, or by the resumed run when the process went away before it
// stored it, starts (its child) no sooner than its scheduledTime plus that
// delay, in the process that scheduled it or in the one that resumed it;
// every child a record names is stored, and the last one completed.
func TestKillAtEveryRetryDelayWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	count := &countingStore{Store: runstore.NewMemory()}
	log := filepath.Join(t.TempDir(), "log")
	e := crashEngine(t, count, log)
	engine.WithoutEarlyWrites(e)
	def, err := e.Parse([]byte(subRetryCrashDef))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Start(context.Background(), def, nil); err != nil || res.Status != engine.StatusCompleted || countLog(t, log)["c1"] != 2 || countLog(t, log)["o"] != 2 {
		t.Fatalf("reference run: %v %+v, o and c1 called %v", err, res, countLog(t, log))
	}
	total := count.n
	for k := 1; k <= total; k++ {
		for _, before := range []bool{true, false} {
			t.Run(fmt.Sprintf("write=%d/before=%v", k, before), func(t *testing.T) {
				t.Parallel() // each waits for its retries' delays, on its own store
				subRetryCrashAndResume(t, k, before)
			})
		}
	}
}

func subRetryCrashAndResume(t *testing.T, k int, before bool) {
	ctx := context.Background()
	dir := t.TempDir()
	db, logPath, runID := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log"), "sub-retry-crash-run"
	child := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.v")
	child.Env = append(os.Environ(), "WFRUN_CRASH_DB="+db, "WFRUN_CRASH_AT="+strconv.Itoa(k), "WFRUN_CRASH_LOG="+logPath,
		"WFRUN_CRASH_DEF="+subRetryCrashDef, "WFRUN_CRASH_RUN="+runID, "WFRUN_CRASH_BEFORE="+map[bool]string{true: "1"}[before])
	out, err := child.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
	case bytes.Contains(out, []byte("child was not killed (write")):
	default:
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if _, _, err := rs.Load(ctx, runID); errors.Is(err, runstore.ErrNotFound) {
		if k == 1 && before {
			return
		}
		t.Fatalf("run lost after write %d", k)
	}
	e := crashEngine(t, rs, logPath)
	res, err := e.Resume(ctx, runID)
	if errors.Is(err, engine.ErrNotRunning) {
		res, err = &engine.Result{Status: engine.StatusCompleted}, nil // archived before the kill
	}
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume after write %d: %v %+v", k, err, res)
	}
	doc, _, err := rs.Load(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Tasks []struct {
			Ref           string `json:"referenceTaskName"`
			Status        string `json:"status"`
			RetryCount    int    `json:"retryCount"`
			Scheduled     int64  `json:"scheduledTime"`
			Start         int64  `json:"startTime"`
			Callback      int64  `json:"callbackAfterSeconds"`
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var last string
	for _, tk := range d.Tasks {
		if tk.Ref == "o" && tk.RetryCount == 1 && (tk.Callback != 1 || tk.Start < tk.Scheduled+1000) {
			t.Fatalf("the retry %+v (callbackAfterSeconds 1) started before its delay had passed", tk)
		}
		if tk.Ref != "sub" {
			continue
		}
		if tk.SubWorkflowID == "" {
			t.Fatalf("record %+v names no child", tk)
		}
		cdoc, _, err := rs.Load(ctx, tk.SubWorkflowID)
		if err != nil {
			t.Fatalf("record %+v names a child not stored: %v", tk, err)
		}
		var c struct {
			Create int64  `json:"createTime"`
			Status string `json:"status"`
		}
		_ = json.Unmarshal(cdoc, &c)
		if tk.RetryCount == 1 && (tk.Callback != 1 || c.Create < tk.Scheduled+1000) {
			t.Fatalf("the retry %+v (callbackAfterSeconds 1) started its child at %d, before its delay had passed", tk, c.Create)
		}
		last = c.Status
	}
	if last != engine.StatusCompleted {
		t.Fatalf("the last child is %s, want COMPLETED: %s", last, doc)
	}
}
