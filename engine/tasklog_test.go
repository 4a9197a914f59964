package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// tamperedLogs is a memory run store that counts task log writes and can
// hand back its entries changed, as a damaged or hostile store would.
type tamperedLogs struct {
	*runstore.Memory
	appends atomic.Int64
	mu      sync.Mutex
	tamper  func([]runstore.TaskLogEntry) []runstore.TaskLogEntry
}

func (s *tamperedLogs) AppendTaskLogs(ctx context.Context, id string, n int, seal func(uint64) ([]byte, error), max int) error {
	s.appends.Add(1)
	return s.Memory.AppendTaskLogs(ctx, id, n, seal, max)
}

func (s *tamperedLogs) TaskLogs(ctx context.Context, id string) ([]runstore.TaskLogEntry, error) {
	es, err := s.Memory.TaskLogs(ctx, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tamper != nil {
		es = s.tamper(es)
	}
	return es, err
}

func taskLogEngine(t *testing.T, st runstore.Store) *engine.Engine {
	t.Helper()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithRunStore(st), engine.WithKeyring(ring),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + token + `"`)}
		}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestAppendTaskLogs: a batch is masked (with the run's values and the
// `_secrets` leaves of the result it comes with), cut to its last
// MaxTaskLogLines lines and written once; another engine on the store (the
// run not executed there) masks with the values the run stored; entries
// moved, repeated, taken out or swapped do not read back.
func TestAppendTaskLogs(t *testing.T) {
	const minted = "minted-value-5d1e8a"
	st := &tamperedLogs{Memory: runstore.NewMemory()}
	e := taskLogEngine(t, st)
	def, err := e.Parse([]byte(`{"name":"logged","tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT","inputParameters":{"t":"${workflow.secrets.api_token}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := e.Start(ctx, def, nil, engine.WithRunID("logged-1")); err != nil {
			t.Error(err)
		}
	}()
	defer func() { _ = e.Terminate(ctx, "logged-1", "test over"); <-done }()
	var taskID string
	for deadline := time.Now().Add(10 * time.Second); taskID == ""; time.Sleep(5 * time.Millisecond) {
		var run struct {
			Tasks []struct {
				TaskID string `json:"taskId"`
			} `json:"tasks"`
		}
		if view, err := e.Show(ctx, "logged-1"); err == nil && json.Unmarshal(view, &run) == nil && len(run.Tasks) == 1 {
			taskID = run.Tasks[0].TaskID
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started its task")
		}
	}
	lines := make([]string, engine.MaxTaskLogLines+5)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d %s", i, token)
	}
	lines[len(lines)-1] = "minted " + minted
	if err := e.AppendTaskLogs(ctx, "logged-1", taskID, lines, engine.WithTaskOutput([]byte(`{"_secrets":{"tok":"`+minted+`"}}`))); err != nil {
		t.Fatal(err)
	}
	if n := st.appends.Load(); n != 1 {
		t.Errorf("a batch was written in %d writes", n)
	}
	logs, err := e.TaskLogs(ctx, "logged-1", taskID)
	if err != nil || len(logs) != engine.MaxTaskLogLines {
		t.Fatalf("%d lines, %v", len(logs), err)
	}
	if logs[0].Log != "line 5 ***" || logs[len(logs)-1].Log != "minted ***" {
		t.Errorf("first %q, last %q", logs[0].Log, logs[len(logs)-1].Log)
	}
	// Another engine on the store: the run's stored values mask.
	other := taskLogEngine(t, st)
	if err := other.AppendTaskLog(ctx, "logged-1", taskID, "from elsewhere "+token); err != nil {
		t.Fatal(err)
	}
	logs, err = other.TaskLogs(ctx, "logged-1", taskID)
	if err != nil || logs[len(logs)-1].Log != "from elsewhere ***" {
		t.Fatalf("%v %v", logs[len(logs)-1], err)
	}
	for _, c := range []struct {
		name   string
		tamper func([]runstore.TaskLogEntry) []runstore.TaskLogEntry
	}{
		{"reordered", func(es []runstore.TaskLogEntry) []runstore.TaskLogEntry {
			es[1], es[2] = es[2], es[1]
			return es
		}},
		{"repeated", func(es []runstore.TaskLogEntry) []runstore.TaskLogEntry {
			return append(es[:3:3], es[2:]...)
		}},
		{"one taken out", func(es []runstore.TaskLogEntry) []runstore.TaskLogEntry {
			return append(es[:3:3], es[4:]...)
		}},
		{"contents swapped", func(es []runstore.TaskLogEntry) []runstore.TaskLogEntry {
			es[1].Data, es[2].Data = es[2].Data, es[1].Data
			return es
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st.mu.Lock()
			st.tamper = c.tamper
			st.mu.Unlock()
			defer func() { st.mu.Lock(); st.tamper = nil; st.mu.Unlock() }()
			_, err := e.TaskLogs(ctx, "logged-1", taskID)
			if err == nil || !strings.Contains(err.Error(), "run logged-1: task log entry") || strings.Contains(err.Error(), "line ") {
				t.Fatalf("TaskLogs: %v", err)
			}
			if c.name != "contents swapped" && !errors.Is(err, engine.ErrTaskLogOrder) {
				t.Errorf("not ErrTaskLogOrder: %v", err)
			}
		})
	}
}

// Masking a run's task logs again costs no commit when no line changes: a
// run that registers a value per iteration, on bolt, commits as often as
// the same run that registers none.
func TestTaskLogRemaskCommitsOnlyChanges(t *testing.T) {
	commits := func(key string) int64 {
		st, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		e := taskLogEngine(t, st)
		d, err := e.Parse([]byte(`{"name":"loop","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
		  "loopCondition":"if ($.loop['iteration'] < 5) { true; } else { false; }",
		  "loopOver":[{"name":"step","taskReferenceName":"step","type":"INLINE",
		    "inputParameters":{"evaluatorType":"javascript","i":"${loop.output.iteration}","expression":"({` + key + `: {tok: 'remask-value-' + $.i}})"}}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		before := st.Stats().Commits
		if res, err := e.Start(context.Background(), d, nil); err != nil || res.Status != engine.StatusCompleted {
			t.Fatalf("%v %+v", err, res)
		}
		return st.Stats().Commits - before
	}
	plain, registering := commits("plain"), commits("_secrets")
	if registering != plain {
		t.Fatalf("%d commits registering a value per iteration, %d registering none", registering, plain)
	}
}
