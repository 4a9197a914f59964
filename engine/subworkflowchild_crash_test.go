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
