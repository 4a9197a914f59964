package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
)

const visibleToken = "tok-visible-5e1d"

// visibleDef: a slow worker whose input holds a secret reference (kept
// literal when stored) and a `_secrets` member (sealed when stored), then a
// fast one.
const visibleDef = `{"name":"visible","tasks":[
  {"name":"slow","taskReferenceName":"slow","inputParameters":{"auth":"${workflow.secrets.api_token}",
    "_secrets":{"key":"${workflow.secrets.api_token}"},"n":1}},
  {"name":"fast","taskReferenceName":"fast","inputParameters":{"m":2}}]}`

// recordingStore keeps, in the order they were committed, every task
// record a run store was given; hold, when set, delays the commits of
// changes that carry an IN_PROGRESS record (and says so on holding).
type recordingStore struct {
	runstore.Store
	hold    time.Duration
	holding chan struct{}

	mu      sync.Mutex
	commits [][]runstore.Task
}

func (s *recordingStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	var tasks []runstore.Task
	inProgress := false
	for _, t := range ch.Tasks {
		tasks = append(tasks, runstore.Task{Seq: t.Seq, Doc: bytes.Clone(t.Doc)})
		inProgress = inProgress || bytes.Contains(t.Doc, []byte(`"status":"IN_PROGRESS"`))
	}
	if inProgress && s.hold > 0 {
		select {
		case s.holding <- struct{}{}:
		default:
		}
		time.Sleep(s.hold)
	}
	err := s.Store.Commit(ctx, id, ch)
	if err == nil {
		s.mu.Lock()
		s.commits = append(s.commits, tasks)
		s.mu.Unlock()
	}
	return err
}

type storedTask struct {
	Ref       string          `json:"referenceTaskName"`
	Status    string          `json:"status"`
	StartTime int64           `json:"startTime"`
	Input     json.RawMessage `json:"inputData"`
}

func (s storedTask) String() string {
	return fmt.Sprintf("{%s %s start=%d input=%s}", s.Ref, s.Status, s.StartTime, s.Input)
}

// records returns every committed record of task ref, in commit order.
func (s *recordingStore) records(t *testing.T, ref string) []storedTask {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storedTask
	for _, c := range s.commits {
		for _, task := range c {
			var st storedTask
			if err := json.Unmarshal(task.Doc, &st); err != nil {
				t.Fatalf("stored task record is not JSON: %v", err)
			}
			if st.Ref == ref {
				out = append(out, st)
			}
		}
	}
	return out
}

func visibleEngine(t *testing.T, rs runstore.Store, release <-chan struct{}) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 3)),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + visibleToken + `"`)}
		}),
		engine.WithWorker("slow", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if !bytes.Contains(in, []byte(visibleToken)) {
				t.Errorf("the worker did not get the resolved input: %s", in)
			}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"done":true}`), nil
		}),
		engine.WithWorker("fast", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// visibleStores makes a run store of each kind: memory, bolt, and a real
// redis-server.
func visibleStores(t *testing.T) map[string]func() runstore.Store {
	return map[string]func() runstore.Store{
		"memory": func() runstore.Store { return runstore.NewMemory() },
		"bolt": func() runstore.Store {
			s, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func() runstore.Store {
			s, err := runstore.OpenRedis("redis://" + redistest.Start(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// A task that keeps running is written while it runs: a reader of the
// store sees it IN_PROGRESS with its start time and its stored input —
// the secret reference literal, `_secrets` sealed, the value nowhere —
// byte for byte the input the task's completion writes; then COMPLETED.
func TestRunningTaskWrittenWhileItRuns(t *testing.T) {
	for name, open := range visibleStores(t) {
		t.Run("store="+name, func(t *testing.T) {
			rs := &recordingStore{Store: open()}
			release := make(chan struct{})
			e := visibleEngine(t, rs, release)
			def, err := e.Parse([]byte(visibleDef))
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				res *engine.Result
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := e.Start(context.Background(), def, nil, engine.WithRunID("run-visible"))
				done <- result{res, err}
			}()
			var seen storedTask
			deadline := time.Now().Add(10 * time.Second)
			for seen.Status != engine.TaskInProgress {
				if time.Now().After(deadline) {
					close(release)
					t.Fatalf("the running task never became visible in the store")
				}
				time.Sleep(5 * time.Millisecond)
				doc, archived, err := rs.Store.Load(context.Background(), "run-visible")
				if err != nil || archived {
					continue
				}
				if bytes.Contains(doc, []byte(visibleToken)) {
					t.Fatalf("the stored run holds the secret value: %s", doc)
				}
				var d struct {
					Status string       `json:"status"`
					Tasks  []storedTask `json:"tasks"`
				}
				if err := json.Unmarshal(doc, &d); err != nil {
					t.Fatal(err)
				}
				for _, task := range d.Tasks {
					if task.Ref == "slow" {
						seen = task
					}
				}
			}
			var in struct {
				Auth    string `json:"auth"`
				N       int    `json:"n"`
				Secrets any    `json:"_secrets"`
			}
			if err := json.Unmarshal(seen.Input, &in); err != nil || in.Auth != "${workflow.secrets.api_token}" || in.N != 1 || seen.StartTime == 0 {
				t.Fatalf("running task as stored: %+v (input %s)", seen, seen.Input)
			}
			if s, ok := in.Secrets.(string); !ok || !strings.HasPrefix(s, "wfrun-sealed:v1:") {
				t.Fatalf("the running task's _secrets are not sealed: %s", seen.Input)
			}
			close(release)
			r := <-done
			if r.err != nil || r.res.Status != engine.StatusCompleted {
				t.Fatalf("run: %v %+v", r.err, r.res)
			}
			recs := rs.records(t, "slow")
			if len(recs) < 2 || recs[len(recs)-1].Status != engine.TaskCompleted {
				t.Fatalf("records of the slow task: %+v", recs)
			}
			last := recs[len(recs)-1]
			for _, rec := range recs {
				if rec.Status == engine.TaskInProgress && !bytes.Equal(rec.Input, last.Input) {
					t.Errorf("early record's input %s differs from the completion's %s", rec.Input, last.Input)
				}
			}
			if fast := rs.records(t, "fast"); len(fast) != 1 || fast[0].Status != engine.TaskCompleted {
				t.Errorf("a fast task is written once, at its end: %+v", fast)
			}
		})
	}
}

// An early write that is slow to commit never lands after the task's
// completion: the completion waits for it, so the last record of the task
// is COMPLETED, on every store.
func TestEarlyWriteNeverOverwritesCompletion(t *testing.T) {
	for name, open := range visibleStores(t) {
		t.Run("store="+name, func(t *testing.T) {
			rs := &recordingStore{Store: open(), hold: 200 * time.Millisecond, holding: make(chan struct{}, 1)}
			release := make(chan struct{})
			e := visibleEngine(t, rs, release)
			def, err := e.Parse([]byte(visibleDef))
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				// The task ends while its early write is being committed.
				select {
				case <-rs.holding:
				case <-time.After(10 * time.Second):
				}
				close(release)
			}()
			res, err := e.Start(context.Background(), def, nil, engine.WithRunID("run-order"))
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("run: %v %+v", err, res)
			}
			recs := rs.records(t, "slow")
			if len(recs) < 2 || recs[0].Status != engine.TaskInProgress {
				t.Fatalf("want an early IN_PROGRESS record first: %+v", recs)
			}
			completed := false
			for _, rec := range recs {
				if completed && rec.Status != engine.TaskCompleted {
					t.Fatalf("a %s record was committed after the COMPLETED one: %+v", rec.Status, recs)
				}
				completed = completed || rec.Status == engine.TaskCompleted
			}
			if !completed {
				t.Fatalf("no COMPLETED record: %+v", recs)
			}
		})
	}
}

// A resumed run's task that keeps running is written early too, before
// the resumed run's first write of its own.
func TestResumedRunningTaskWrittenWhileItRuns(t *testing.T) {
	rs := runstore.NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	first, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 3)),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + visibleToken + `"`)}
		}),
		// The process stops as soon as the slow task starts.
		engine.WithWorker("slow", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			cancel()
			return nil, context.Canceled
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := first.Parse([]byte(visibleDef))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Start(ctx, def, nil, engine.WithRunID("run-resumed")); !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v", err)
	}
	doc, _, err := rs.Load(context.Background(), "run-resumed")
	if err != nil || bytes.Contains(doc, []byte(`"status":"IN_PROGRESS"`)) {
		t.Fatalf("the interrupted run should hold no running task yet: %v %s", err, doc)
	}
	release := make(chan struct{})
	e := visibleEngine(t, rs, release)
	done := make(chan error, 1)
	go func() {
		res, err := e.Resume(context.Background(), "run-resumed")
		if err == nil && res.Status != engine.StatusCompleted {
			err = fmt.Errorf("resumed run ended %s", res.Status)
		}
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.Contains(doc, []byte(`"status":"IN_PROGRESS"`)) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("the resumed run's running task never became visible: %s", doc)
		}
		time.Sleep(5 * time.Millisecond)
		doc, _, _ = rs.Load(context.Background(), "run-resumed")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A reader of the engine that executes a run sees a task that started a
// moment ago: Show writes the run's in-flight records first, as Conductor
// shows a task SCHEDULED as soon as it is scheduled.
func TestShowSeesATaskThatJustStarted(t *testing.T) {
	for name, open := range visibleStores(t) {
		t.Run("store="+name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			e, err := engine.New(engine.WithRunStore(open()),
				engine.WithWorker("slow", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
					close(entered)
					select {
					case <-release:
					case <-ctx.Done():
					}
					return json.RawMessage(`{"done":true}`), nil
				}))
			if err != nil {
				t.Fatal(err)
			}
			def, err := e.Parse([]byte(`{"name":"just_started","tasks":[{"name":"slow","taskReferenceName":"slow"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := e.Start(context.Background(), def, nil, engine.WithRunID("run-just-started"))
				done <- err
			}()
			<-entered
			view, err := e.Show(context.Background(), "run-just-started")
			close(release)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Tasks []storedTask `json:"tasks"`
			}
			if err := json.Unmarshal(view, &d); err != nil {
				t.Fatal(err)
			}
			if len(d.Tasks) != 1 || d.Tasks[0].Status != engine.TaskInProgress {
				t.Fatalf("shown right after the task started: %+v, want slow IN_PROGRESS", d.Tasks)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// blockingSecrets answers a secret only when release is closed, and says
// when it was asked.
type blockingSecrets struct {
	asked, release chan struct{}
	once           sync.Once
}

func (b *blockingSecrets) Secret(ctx context.Context, name string) ([]byte, error) {
	if _, task := store.RunOf(ctx); task == "" {
		// The run's start, checking its definition holds no value of
		// the secret (defvalues.go): only a task's read is held.
		return json.RawMessage(`"` + visibleToken + `"`), nil
	}
	b.once.Do(func() { close(b.asked) })
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return json.RawMessage(`"` + visibleToken + `"`), nil
}

// A record is never written before its input is: a reader that comes while
// a task's input is being resolved (its record SCHEDULED, no input yet)
// sees no record of it, then the record with its input.
func TestScheduledRecordIsWrittenWithItsInput(t *testing.T) {
	for name, open := range visibleStores(t) {
		t.Run("store="+name, func(t *testing.T) {
			src := &blockingSecrets{asked: make(chan struct{}), release: make(chan struct{})}
			e, err := engine.New(engine.WithRunStore(open()), engine.WithKeyring(keyring(t, 3)),
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource { return src }),
				engine.WithWorker("slow", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
					return json.RawMessage(`{}`), nil
				}))
			if err != nil {
				t.Fatal(err)
			}
			def, err := e.Parse([]byte(`{"name":"input_first","tasks":[{"name":"slow","taskReferenceName":"slow",
			  "inputParameters":{"auth":"${workflow.secrets.api_token}","n":1}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := e.Start(context.Background(), def, nil, engine.WithRunID("run-input-first"))
				done <- err
			}()
			<-src.asked
			time.Sleep(100 * time.Millisecond) // past the looks too
			view, err := e.Show(context.Background(), "run-input-first")
			close(src.release)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Tasks []storedTask `json:"tasks"`
			}
			if err := json.Unmarshal(view, &d); err != nil {
				t.Fatal(err)
			}
			for _, task := range d.Tasks {
				if task.Ref == "slow" && !bytes.Contains(task.Input, []byte(`"n":1`)) {
					t.Fatalf("the record was written before its input: %+v", task)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
