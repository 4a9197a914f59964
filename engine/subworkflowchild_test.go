package engine_test

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// namedChildStore is a run store that, after every write of a run, reads
// every child run the written document's SUB_WORKFLOW records name and
// notes those it cannot read.
type namedChildStore struct {
	runstore.Store
	mu      sync.Mutex
	missing []string
}

func (s *namedChildStore) check(ctx context.Context, id string) {
	doc, _, err := s.Store.Load(ctx, id)
	if err != nil {
		return
	}
	var d struct {
		Tasks []struct {
			Ref           string `json:"referenceTaskName"`
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(doc, &d)
	for _, tk := range d.Tasks {
		if tk.SubWorkflowID == "" {
			continue
		}
		if _, _, err := s.Store.Load(ctx, tk.SubWorkflowID); errors.Is(err, runstore.ErrNotFound) {
			s.mu.Lock()
			s.missing = append(s.missing, fmt.Sprintf("run %s's %s names %s", id, tk.Ref, tk.SubWorkflowID))
			s.mu.Unlock()
		}
	}
}

func (s *namedChildStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if err := s.Store.Commit(ctx, id, ch); err != nil {
		return err
	}
	s.check(ctx, id)
	return nil
}

func (s *namedChildStore) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	if err := s.Store.Restore(ctx, id, ch); err != nil {
		return err
	}
	s.check(ctx, id)
	return nil
}

func (s *namedChildStore) noneMissing(t *testing.T, when string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.missing) > 0 {
		t.Fatalf("%s: a stored record named a child run not stored yet: %v", when, s.missing)
	}
}

// conductorChildID is Conductor's IDGenerator.generateSubWorkflowId: Java's
// UUID.nameUUIDFromBytes (an MD5 name-based UUID without a namespace) of
// "subworkflow:<parent>:<task>:<retryCount>".
func conductorChildID(parent, task string, retry int) string {
	sum := md5.Sum([]byte("subworkflow:" + parent + ":" + task + ":" + strconv.Itoa(retry)))
	sum[6] = sum[6]&0x0f | 0x30
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

const namedChildDef = `{"name":"swc_parent","tasks":[
  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","taskDefinition":{"name":"sub","retryCount":1,"retryDelaySeconds":0},
   "subWorkflowParam":{"name":"swc_child","workflowDefinition":{"name":"swc_child","tasks":[
     {"name":"maybe","taskReferenceName":"m","retryCount":0}]}}}]}`

// TestSubWorkflowChildStoredBeforeItIsNamed: a SUB_WORKFLOW record names
// its child only once the child run is stored, as Conductor's
// SubWorkflow.start does, so a client that reads the parent never gets a
// child id that answers "not found"; the child's id is Conductor's, derived
// from the parent, the task and its retry count. Checked after every write
// of a first attempt, a retry by the task's retryCount, a retry of the run
// and a rerun from the SUB_WORKFLOW task (which reruns it in place: same
// task id, a new child with an id of its own, and a later retry of it a
// record with a new task id).
func TestSubWorkflowChildStoredBeforeItIsNamed(t *testing.T) {
	ctx := context.Background()
	rs := &namedChildStore{Store: runstore.NewMemory()}
	var fails atomic.Int32
	e, err := engine.New(engine.WithRunStore(rs), engine.WithWorker("maybe", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		if fails.Add(-1) >= 0 {
			return nil, errors.New("not this time")
		}
		return json.RawMessage(`{"ok":true}`), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(namedChildDef))
	if err != nil {
		t.Fatal(err)
	}
	subs := func(v runView) []taskView {
		var out []taskView
		for _, tk := range v.Tasks {
			if tk.TaskType == "SUB_WORKFLOW" {
				out = append(out, tk)
			}
		}
		return out
	}
	checkIDs := func(v runView, when string) {
		t.Helper()
		ids := map[string]bool{}
		for _, tk := range v.Tasks {
			if ids[tk.TaskID] {
				t.Fatalf("%s: two records have task id %s", when, tk.TaskID)
			}
			ids[tk.TaskID] = true
		}
		for _, tk := range subs(v) {
			c := viewRun(t, e, tk.SubWorkflowID)
			if c.WorkflowID != tk.SubWorkflowID {
				t.Fatalf("%s: child %s shows as %s", when, tk.SubWorkflowID, c.WorkflowID)
			}
		}
	}

	// A first attempt whose child fails, and its retry, whose child
	// completes: each child's id is Conductor's for its record.
	fails.Store(1)
	res := startRun(t, e, def, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run %s: %s", res.Status, res.Reason)
	}
	rs.noneMissing(t, "start")
	v := viewRun(t, e, res.RunID)
	checkTasks(t, v.Tasks, "SUB_WORKFLOW:FAILED", "SUB_WORKFLOW:COMPLETED")
	checkIDs(v, "start")
	for _, tk := range subs(v) {
		if want := conductorChildID(res.RunID, tk.TaskID, tk.RetryCount); tk.SubWorkflowID != want {
			t.Fatalf("attempt %d's child is %s, want Conductor's %s", tk.RetryCount, tk.SubWorkflowID, want)
		}
	}

	// A rerun from the completed attempt: same record, a new child
	// (its previous one holds the derived id), which completes.
	last := subs(v)[1]
	if _, err := e.RerunWith(ctx, res.RunID, engine.RerunOptions{FromTaskID: last.TaskID}); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	rs.noneMissing(t, "rerun")
	v = viewRun(t, e, res.RunID)
	checkTasks(t, v.Tasks, "SUB_WORKFLOW:FAILED", "SUB_WORKFLOW:COMPLETED")
	checkIDs(v, "rerun")
	again := subs(v)[1]
	if again.TaskID != last.TaskID || again.SubWorkflowID == last.SubWorkflowID || again.SubWorkflowID == "" {
		t.Fatalf("rerun in place: task %s child %s, was task %s child %s", again.TaskID, again.SubWorkflowID, last.TaskID, last.SubWorkflowID)
	}

	// A rerun from the first attempt whose new child fails: the retry the
	// task's retryCount gives is a new record, with a task id and a child
	// of its own.
	fails.Store(1)
	first := subs(v)[0]
	if _, err := e.RerunWith(ctx, res.RunID, engine.RerunOptions{FromTaskID: first.TaskID}); err != nil {
		t.Fatalf("rerun of the first attempt: %v", err)
	}
	rs.noneMissing(t, "rerun of the first attempt")
	v = viewRun(t, e, res.RunID)
	checkIDs(v, "rerun of the first attempt")
	if v.Status != engine.StatusCompleted {
		t.Fatalf("after the rerun of the first attempt: %s %+v", v.Status, v.Tasks)
	}

	// A run whose children all fail, retried: the retry's attempt gets
	// its own child, Conductor's id for it.
	fails.Store(2)
	res = startRun(t, e, def, `{}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("run %s, want FAILED", res.Status)
	}
	if _, err := e.Retry(ctx, res.RunID, false); err != nil {
		t.Fatalf("retry: %v", err)
	}
	rs.noneMissing(t, "retry")
	v = viewRun(t, e, res.RunID)
	checkTasks(t, v.Tasks, "SUB_WORKFLOW:FAILED", "SUB_WORKFLOW:FAILED", "SUB_WORKFLOW:COMPLETED")
	checkIDs(v, "retry")
	for _, tk := range subs(v) {
		if want := conductorChildID(res.RunID, tk.TaskID, tk.RetryCount); tk.SubWorkflowID != want {
			t.Fatalf("attempt %d's child is %s, want Conductor's %s", tk.RetryCount, tk.SubWorkflowID, want)
		}
	}
}

// squatStore stores, once, a run of its own under the child id a
// SUB_WORKFLOW record derives, as soon as the record is written without a
// child.
type squatStore struct {
	runstore.Store
	squat func(ctx context.Context, childID string)
	once  sync.Once
}

func (s *squatStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if err := s.Store.Commit(ctx, id, ch); err != nil {
		return err
	}
	doc, _, err := s.Store.Load(ctx, id)
	if err != nil {
		return nil
	}
	var d struct {
		Tasks []struct {
			TaskID        string `json:"taskId"`
			TaskType      string `json:"taskType"`
			RetryCount    int    `json:"retryCount"`
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(doc, &d)
	for _, tk := range d.Tasks {
		if tk.TaskType == "SUB_WORKFLOW" && tk.SubWorkflowID == "" {
			s.once.Do(func() { s.squat(ctx, conductorChildID(id, tk.TaskID, tk.RetryCount)) })
		}
	}
	return nil
}

// TestSubWorkflowChildOfAnotherParentNotTakenOver: a run stored under the
// id a SUB_WORKFLOW record derives for its child, but not started by that
// record (storage is untrusted), is not taken over as its child: the task
// fails, naming the id.
func TestSubWorkflowChildOfAnotherParentNotTakenOver(t *testing.T) {
	mem := runstore.NewMemory()
	// Another process of the deployment: the same keyring.
	ring := keyring(t, 29)
	other, err := engine.New(engine.WithRunStore(mem), engine.WithKeyring(ring))
	if err != nil {
		t.Fatal(err)
	}
	squatter, err := other.Parse([]byte(`{"name":"squatter","tasks":[{"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var squatted string
	rs := &squatStore{Store: mem, squat: func(ctx context.Context, id string) {
		squatted = id
		if _, err := other.Start(ctx, squatter, nil, engine.WithRunID(id)); err != nil {
			t.Errorf("squatter: %v", err)
		}
	}}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(ring), engine.WithWorker("maybe", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(namedChildDef))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, def, `{}`)
	if squatted == "" {
		t.Fatal("no SUB_WORKFLOW record was written without its child")
	}
	v := viewRun(t, e, res.RunID)
	if res.Status != engine.StatusFailed || len(v.Tasks) != 1 || v.Tasks[0].Status != engine.TaskFailedTerminal ||
		!strings.Contains(v.Tasks[0].Reason, squatted) || v.Tasks[0].SubWorkflowID != "" {
		t.Fatalf("run %s, tasks %+v; want FAILED, its SUB_WORKFLOW task FAILED_WITH_TERMINAL_ERROR naming %s and no child", res.Status, v.Tasks, squatted)
	}
	if c := viewRun(t, e, squatted); c.Status != engine.StatusCompleted {
		t.Fatalf("the other run is %s", c.Status)
	}
}
