package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// slotBackend is a run store the answer slot tests run on, with a look
// at what it holds of a run's signals and slots, raw (after the engine is
// done with it: a bolt store is closed for it).
type slotBackend struct {
	name string
	open func(t *testing.T) runstore.Store
	// raw lists the keys the store holds of run id's signals and slots
	// (s is closed first where the backend needs it).
	raw func(t *testing.T, s runstore.Store, id string) []string
}

func slotBackends() []slotBackend {
	var boltPath string
	var rdb *goredis.Client
	return []slotBackend{
		{"memory", func(*testing.T) runstore.Store { return runstore.NewMemory() }, nil},
		{"bolt", func(t *testing.T) runstore.Store {
			boltPath = filepath.Join(t.TempDir(), "runs.db")
			s, err := runstore.OpenBolt(boltPath)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, func(t *testing.T, s runstore.Store, id string) []string {
			_ = s.Close()
			db, err := bolt.Open(boltPath, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var out []string
			_ = db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("signals"))
				if b == nil {
					return nil
				}
				return b.ForEach(func(k, _ []byte) error {
					if strings.HasPrefix(string(k), id) {
						out = append(out, strings.ReplaceAll(string(k), "\x00", " "))
					}
					return nil
				})
			})
			return out
		}},
		{"redis", func(t *testing.T) runstore.Store {
			addr := redistest.Start(t)
			rdb = goredis.NewClient(&goredis.Options{Addr: addr})
			t.Cleanup(func() { _ = rdb.Close() })
			s, err := runstore.OpenRedis("redis://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, func(t *testing.T, _ runstore.Store, id string) []string {
			keys, err := rdb.Keys(context.Background(), "*").Result()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, k := range keys {
				if strings.Contains(k, "signals:"+id) || strings.Contains(k, "slots:"+id) {
					out = append(out, k)
				}
			}
			return out
		}},
	}
}

// slotWatch watches the answer slots of one run: it records the keys of
// the slots written, can hold the runner's first answer (answerHeld) or
// the runner's taking of the run's signals (open), and calls onRequest
// once a request of a caller is stored.
type slotWatch struct {
	runstore.Store
	id string

	mu    sync.Mutex
	keys  map[string]bool
	wrote int // answers (member "outcome") the store wrote or refused

	// holdAnswer: the runner's first answer waits, once it reached the
	// store (answerAt closed), until release is closed; answered is
	// closed once the store wrote it (or refused it).
	holdAnswer        bool
	answerAt, release chan struct{}
	answered          chan struct{}
	open              chan struct{} // nil: the runner takes signals at once
	onRequest         func(key string)
	requestPrefixes   []string
}

func newSlotWatch(s runstore.Store, id string) *slotWatch {
	return &slotWatch{Store: s, id: id, keys: map[string]bool{},
		answerAt: make(chan struct{}), release: make(chan struct{}), answered: make(chan struct{})}
}

func (w *slotWatch) PutSlot(ctx context.Context, id, key, member string, payload []byte, unless string) (bool, error) {
	w.mu.Lock()
	hold := id == w.id && member == "outcome" && w.holdAnswer
	if hold {
		w.holdAnswer = false
	}
	if id == w.id {
		w.keys[key] = true
	}
	w.mu.Unlock()
	if hold {
		close(w.answerAt)
		<-w.release
	}
	put, err := w.Store.PutSlot(ctx, id, key, member, payload, unless)
	if id == w.id && member == "outcome" {
		w.mu.Lock()
		w.wrote++
		w.mu.Unlock()
		if hold {
			close(w.answered)
		}
	}
	return put, err
}

func (w *slotWatch) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	err := w.Store.PutSignal(ctx, id, key, payload)
	w.mu.Lock()
	f := w.onRequest
	match := false
	for _, p := range w.requestPrefixes {
		match = match || strings.HasPrefix(key, p)
	}
	w.mu.Unlock()
	if err == nil && id == w.id && f != nil && match {
		f(key)
	}
	return err
}

func (w *slotWatch) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	w.mu.Lock()
	open := w.open
	w.mu.Unlock()
	if open != nil && id == w.id {
		select {
		case <-open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return w.Store.TakeSignals(ctx, id)
}

func (w *slotWatch) answers() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wrote
}

// held lists what the run's slots hold now, member by member (taking it:
// call it where every slot must be empty).
func (w *slotWatch) held(t *testing.T) []string {
	t.Helper()
	w.mu.Lock()
	keys := make([]string, 0, len(w.keys))
	for k := range w.keys {
		keys = append(keys, k)
	}
	w.mu.Unlock()
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		m, err := w.Store.TakeSlot(context.Background(), w.id, k)
		if err != nil {
			t.Fatal(err)
		}
		for member := range m {
			out = append(out, k+" "+member)
		}
	}
	return out
}

const slotWaitDef = `{"name":"slot_end","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`

// startSlotRun starts slotWaitDef as run id on w's engine and waits for
// its WAIT.
func startSlotRun(t *testing.T, h *harness, id string) <-chan *engine.Result {
	t.Helper()
	d, err := h.e.Parse([]byte(slotWaitDef))
	if err != nil {
		t.Fatal(err)
	}
	done := startAsync(t, h.e, d, id)
	awaitRun(t, h.e, id, func(v progressView) bool { return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress })
	return done
}

// endSlotRun completes the run's WAIT, waits for its end and checks the
// store holds nothing of its signals and slots.
func endSlotRun(t *testing.T, b slotBackend, h *harness, w *slotWatch, done <-chan *engine.Result) {
	t.Helper()
	if _, err := h.e.CompleteTask(context.Background(), w.id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run %+v", res)
	}
	noSlotsLeft(t, b, w, "after the run ended")
}

// noSlotsLeft checks that run w.id's slots hold nothing, and that the
// store itself holds nothing of them where the backend can look.
func noSlotsLeft(t *testing.T, b slotBackend, w *slotWatch, when string) {
	t.Helper()
	if held := w.held(t); len(held) != 0 {
		t.Fatalf("%s its slots hold %v", when, held)
	}
	if b.raw != nil {
		if keys := b.raw(t, w.Store, w.id); len(keys) != 0 {
			t.Fatalf("%s the store holds %v", when, keys)
		}
	}
}

// TestAnswerSlotCallerLeavesAsTheRunnerAnswers: the caller of
// CompleteTaskStored stops waiting just as the runner writes its answer
// (the runner looked at the slot, found no mark, and writes): the store
// meets both in one step, so the slot is empty once both are done, while
// the run still runs; and once the run ended, the store holds nothing of
// its slots.
func TestAnswerSlotCallerLeavesAsTheRunnerAnswers(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b11f"
			w := newSlotWatch(b.open(t), id)
			w.holdAnswer = true
			h := newHarness(t, w)
			done := startSlotRun(t, h, id)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-w.answerAt // the runner is about to write its answer
				cancel()
			}()
			if _, _, err := h.e.CompleteTaskStored(ctx, id, engine.Completion{Ref: "w", Status: engine.TaskInProgress, Output: json.RawMessage(`{"n":1}`)}); err != nil {
				t.Fatal(err)
			}
			close(w.release) // the caller left: the runner writes now
			<-w.answered
			if held := w.held(t); len(held) != 0 {
				t.Fatalf("the caller left and the runner answered: the slot holds %v", held)
			}
			endSlotRun(t, b, h, w, done)
		})
	}
}

// TestAnswerSlotsOfPauseAndVariablesCallersThatLeft: a caller of
// UpdateVariables, Pause or ResumePaused that stops waiting before the
// runner took its request leaves nothing in the run store once the runner
// answered it; a caller that waits gets its answer.
func TestAnswerSlotsOfPauseAndVariablesCallersThatLeft(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b12f"
			w := newSlotWatch(b.open(t), id)
			k := keyring(t, 12)
			h := newHarness(t, w, engine.WithKeyring(k))
			done := startSlotRun(t, h, id)
			// The callers are another process sharing the store.
			e2 := newHarness(t, w, engine.WithKeyring(k)).e
			bg := context.Background()
			for _, c := range []struct {
				prefix string
				call   func(ctx context.Context) error
				check  func(v slotRunView) bool
			}{
				{"VARIABLES:", func(ctx context.Context) error {
					return e2.UpdateVariables(ctx, id, json.RawMessage(`{"n":1}`), false)
				}, func(v slotRunView) bool { return v.Variables["n"] == float64(1) }},
				{"__wfrun_pause", func(ctx context.Context) error { return e2.Pause(ctx, id) },
					func(v slotRunView) bool { return v.Status == engine.StatusPaused }},
				{"__wfrun_resume", func(ctx context.Context) error { return e2.ResumePaused(ctx, id) },
					func(v slotRunView) bool { return v.Status == engine.StatusRunning }},
			} {
				before := w.answers()
				ctx, cancel := context.WithCancel(bg)
				w.mu.Lock()
				w.open = make(chan struct{}) // the runner takes nothing yet
				w.requestPrefixes = []string{c.prefix}
				w.onRequest = func(string) { cancel() } // stored: the caller leaves
				w.mu.Unlock()
				if err := c.call(ctx); !errors.Is(err, context.Canceled) {
					t.Fatalf("%s: the caller that left got %v", c.prefix, err)
				}
				w.mu.Lock()
				close(w.open)
				w.open, w.onRequest = nil, nil
				w.mu.Unlock()
				waitFor(t, c.prefix+" applied and answered", func() bool {
					return c.check(viewSlotRun(t, h.e, id)) && w.answers() > before
				})
				if held := w.held(t); len(held) != 0 {
					t.Fatalf("%s: the caller left and the runner answered: the slots hold %v", c.prefix, held)
				}
			}
			// Callers that wait get their answers, and take them.
			if err := e2.Pause(bg, id); err != nil {
				t.Fatal(err)
			}
			if err := e2.UpdateVariables(bg, id, json.RawMessage(`{"n":2}`), false); err != nil {
				t.Fatal(err)
			}
			if err := e2.ResumePaused(bg, id); err != nil {
				t.Fatal(err)
			}
			if held := w.held(t); len(held) != 0 {
				t.Fatalf("answers taken: the slots hold %v", held)
			}
			endSlotRun(t, b, h, w, done)
		})
	}
}

// TestAnswerWaiterLearnsTheRunEnded: a caller waiting for an answer the
// runner never gives (the run ends before it takes the request) learns
// the end from the stored run once the archive removed the run's slots
// and signals: UpdateVariables answers ErrNotRunning, CompleteTaskStored
// returns.
func TestAnswerWaiterLearnsTheRunEnded(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b13f"
			w := newSlotWatch(b.open(t), id)
			k := keyring(t, 13)
			h := newHarness(t, w, engine.WithKeyring(k))
			done := startSlotRun(t, h, id)
			e2 := newHarness(t, w, engine.WithKeyring(k)).e // another process
			bg := context.Background()
			// The runner takes nothing until the run's end is decided.
			w.mu.Lock()
			w.open = make(chan struct{})
			w.mu.Unlock()
			varsErr := make(chan error, 1)
			go func() { varsErr <- e2.UpdateVariables(bg, id, json.RawMessage(`{"late":1}`), false) }()
			storedErr := make(chan error, 1)
			go func() {
				_, _, err := e2.CompleteTaskStored(bg, id, engine.Completion{Ref: "w", Status: engine.TaskInProgress, Output: json.RawMessage(`{"late":1}`)})
				storedErr <- err
			}()
			// Both requests stored, the run ends in another process
			// (archived as that process would).
			waitFor(t, "both requests stored", func() bool {
				m, _ := w.Store.TakeSignals(bg, id) // peek: put back
				for k, v := range m {
					_ = w.Store.PutSignal(bg, id, k, v)
				}
				return len(m) == 2
			})
			doc, _, err := w.Store.Load(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			ended, err := engine.ResealArchived([]byte(strings.Replace(string(doc), `"status":"RUNNING"`, `"status":"TERMINATED"`, 1)), id, k)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Store.Archive(bg, id, ended, runstore.Summary{WorkflowType: "slot_end", Version: 1, Status: "TERMINATED"}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what string
				ch   chan error
				ok   func(error) bool
			}{
				{"UpdateVariables", varsErr, func(err error) bool { return errors.Is(err, engine.ErrNotRunning) }},
				{"CompleteTaskStored", storedErr, func(err error) bool { return err == nil }},
			} {
				select {
				case err := <-c.ch:
					if !c.ok(err) {
						t.Fatalf("%s after the run ended: %v", c.what, err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s still waits after the run ended", c.what)
				}
			}
			w.mu.Lock()
			close(w.open)
			w.open = nil
			w.mu.Unlock()
			// The runner finds the run archived (its lease is not
			// renewed: lease.go) and answers the stored end.
			select {
			case res := <-done:
				if res == nil || res.Status != engine.StatusTerminated {
					t.Fatalf("run %+v", res)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the runner never learned the run ended")
			}
			noSlotsLeft(t, b, w, "after the run ended")
		})
	}
}

// slotRunView is a run's status and variables.
type slotRunView struct {
	Status    string         `json:"status"`
	Variables map[string]any `json:"variables"`
}

// viewSlotRun is the run's status and variables as stored.
func viewSlotRun(t *testing.T, e *engine.Engine, id string) slotRunView {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var v slotRunView
	_ = json.Unmarshal(b, &v)
	return v
}

// answerGate holds a caller's looks at its answer slots (TakeSlot) until
// open is closed.
type answerGate struct {
	runstore.Store
	open chan struct{}
}

func (g *answerGate) TakeSlot(ctx context.Context, id, key string) (map[string][]byte, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Store.TakeSlot(ctx, id, key)
}

// archiveAt records when the run store was asked to archive a run.
type archiveAt struct {
	runstore.Store
	mu sync.Mutex
	at time.Time
}

func (a *archiveAt) Archive(ctx context.Context, id string, archived []byte, sum runstore.Summary) error {
	a.mu.Lock()
	a.at = time.Now()
	a.mu.Unlock()
	return a.Store.Archive(ctx, id, archived, sum)
}

// TestAnswerOutlivesTheArchive: a run that answered a variables update
// and then ended is archived at once (no wait for its caller to look),
// and its caller, in another process that looks only after the archive,
// still takes the answer: the update was applied (nil, not
// ErrNotRunning). The taken answer leaves nothing in the store.
func TestAnswerOutlivesTheArchive(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b14f"
			w := newSlotWatch(b.open(t), id)
			w.holdAnswer = true
			runner := &archiveAt{Store: w}
			k := keyring(t, 14)
			h := newHarness(t, runner, engine.WithKeyring(k))
			done := startSlotRun(t, h, id)
			gate := &answerGate{Store: w, open: make(chan struct{})}
			e2 := newHarness(t, gate, engine.WithKeyring(k)).e // another process
			varsErr := make(chan error, 1)
			go func() {
				varsErr <- e2.UpdateVariables(context.Background(), id, json.RawMessage(`{"n":7}`), false)
			}()
			<-w.answerAt
			close(w.release)
			<-w.answered
			answered := time.Now()
			// The run ends at once after its answer.
			if _, err := h.e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			res := <-done
			if res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("run %+v", res)
			}
			runner.mu.Lock()
			waited := runner.at.Sub(answered)
			runner.mu.Unlock()
			// Nothing holds the archive back for the caller: before,
			// it waited 200 ms after the answer.
			if waited >= 200*time.Millisecond {
				t.Errorf("the run was archived %v after its answer, want at once", waited)
			}
			if v := viewSlotRun(t, h.e, id); v.Variables["n"] != float64(7) {
				t.Fatalf("the update was not applied: %+v", v)
			}
			close(gate.open) // the caller looks only now
			select {
			case err := <-varsErr:
				if err != nil {
					t.Fatalf("UpdateVariables applied before the run's end: %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("UpdateVariables still waits after the run ended")
			}
			noSlotsLeft(t, b, w, "after the answer was taken")
		})
	}
}

// lookGate holds a caller's look at the run's lease (GetLease) that
// follows its first look at its answer slot (TakeSlot), until open is
// closed; at is closed once it holds it.
type lookGate struct {
	runstore.Store
	mu       sync.Mutex
	tookSlot bool
	held     bool
	at, open chan struct{}
}

func (g *lookGate) TakeSlot(ctx context.Context, id, key string) (map[string][]byte, error) {
	g.mu.Lock()
	g.tookSlot = true
	g.mu.Unlock()
	return g.Store.TakeSlot(ctx, id, key)
}

func (g *lookGate) GetLease(ctx context.Context, id string) (runstore.Lease, bool, error) {
	g.mu.Lock()
	hold := g.tookSlot && !g.held
	g.held = g.held || hold
	g.mu.Unlock()
	if hold {
		close(g.at)
		<-g.open
	}
	return g.Store.GetLease(ctx, id)
}

// TestAnswerBetweenTwoLooks: the runner answers a variables update and
// the run ends (archived) after its caller looked at its slot (empty)
// and before it looks at the run (archived): the caller looks at the
// slot once more and learns the update was applied (nil), not
// ErrNotRunning.
func TestAnswerBetweenTwoLooks(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b15f"
			w := newSlotWatch(b.open(t), id)
			w.holdAnswer = true
			k := keyring(t, 15)
			h := newHarness(t, w, engine.WithKeyring(k))
			done := startSlotRun(t, h, id)
			gate := &lookGate{Store: w, at: make(chan struct{}), open: make(chan struct{})}
			e2 := newHarness(t, gate, engine.WithKeyring(k)).e // another process
			varsErr := make(chan error, 1)
			go func() {
				varsErr <- e2.UpdateVariables(context.Background(), id, json.RawMessage(`{"n":8}`), false)
			}()
			<-w.answerAt // the runner is about to answer
			<-gate.at    // the caller found its slot empty
			close(w.release)
			<-w.answered
			if _, err := h.e.CompleteTask(context.Background(), id, "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			if res := <-done; res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("run %+v", res)
			}
			close(gate.open) // the caller looks at the run: archived
			select {
			case err := <-varsErr:
				if err != nil {
					t.Fatalf("UpdateVariables applied before the run's end: %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("UpdateVariables still waits after the run ended")
			}
			noSlotsLeft(t, b, w, "after the answer was taken")
		})
	}
}
