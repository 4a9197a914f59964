package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// heldSignals holds the runner's TakeSignals of one run until open is
// closed, so a signal stored meanwhile waits in the store; it records the
// payload of every signal stored.
type heldSignals struct {
	runstore.Store
	id   string
	open chan struct{}

	mu       sync.Mutex
	payloads [][]byte
}

func (s *heldSignals) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	s.mu.Lock()
	s.payloads = append(s.payloads, append([]byte(nil), payload...))
	s.mu.Unlock()
	return s.Store.PutSignal(ctx, id, key, payload)
}

func (s *heldSignals) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	if id == s.id {
		select {
		case <-s.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.TakeSignals(ctx, id)
}

func (s *heldSignals) stored() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Join(s.payloads, []byte("\n"))
}

// noValueIn fails when text holds value, a piece of it, or one of its
// encodings.
func noValueIn(t *testing.T, where string, text []byte, value string) {
	t.Helper()
	for _, f := range append(leakForms(value), value[3:len(value)-3], value[:12], value[len(value)-12:]) {
		if bytes.Contains(text, []byte(f)) {
			t.Errorf("%s holds the secret value (form %.6s…)", where, f)
		}
	}
}

const sealedReasonDef = `{"name":"sig_reason_sealed","version":1,"schemaVersion":2,"tasks":[
  {"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","tok":"${workflow.secrets.api_token}","expression":"$.tok.length"}},
  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}`

// TestSignalReasonSealedWhileItWaits: an update from outside (a WAIT
// updated FAILED, or COMPLETED, its reasonForIncompletion quoting a value
// the run resolved) rests in the run store until the runner takes it —
// for ever when no process executes the run. The process storing it has
// no masker for the run: the reason is sealed with the output, so no
// stored byte (the signal's payload, the bolt file, every Redis key)
// holds the value or a piece of it while it waits. The runner opens it
// and stores it masked; a signal stored by an older wfrun, its reason in
// clear, is still taken and masked.
func TestSignalReasonSealedWhileItWaits(t *testing.T) {
	for _, backend := range []string{"memory", "bolt", "redis"} {
		for _, status := range []string{engine.TaskFailed, engine.TaskCompleted, "old"} {
			t.Run(backend+"/"+status, func(t *testing.T) {
				value := "sig-" + randHex(16)
				id := fmt.Sprintf("5b0d7a4e-0000-4000-8000-%012x", len(backend)*16+len(status))
				var e *engine.Engine
				var held *heldSignals
				var raw func() map[string][]byte
				if backend == "memory" {
					held = &heldSignals{Store: runstore.NewMemory(), id: id, open: make(chan struct{})}
					h := newHarness(t, held, engine.WithRegistry(rotationRegistry(false)))
					e = h.e
					value = token // the harness's api_token
					raw = func() map[string][]byte { return map[string][]byte{"signal payloads": held.stored()} }
				} else {
					g := newRig(t, backend, 0)
					g.put(t, "api_token", value)
					held = &heldSignals{Store: g.runs, id: id, open: make(chan struct{})}
					g.runs = held
					e = g.engine(t, rotationRegistry(false))
					raw = func() map[string][]byte { return g.raw(t) }
				}
				d, err := e.Parse([]byte(sealedReasonDef))
				if err != nil {
					t.Fatal(err)
				}
				done := startAsync(t, e, d, id)
				awaitRun(t, e, id, func(v progressView) bool {
					return len(v.Tasks) == 2 && v.Tasks[1].Status == engine.TaskInProgress
				})
				reason := "upstream refused " + value + " at the gate"
				want := engine.TaskFailed
				if status == "old" {
					// As an older wfrun stored it: the reason in clear.
					payload, _ := json.Marshal(map[string]string{"status": engine.TaskFailed, "reason": reason})
					if err := held.PutSignal(context.Background(), id, "w", payload); err != nil {
						t.Fatal(err)
					}
				} else {
					want = status
					if _, err := e.CompleteTaskWith(context.Background(), id, engine.Completion{Ref: "w", Status: status, Reason: reason}); err != nil {
						t.Fatal(err)
					}
					// The signal waits in the store.
					if !bytes.Contains(held.stored(), []byte(`"sealedReason"`)) {
						t.Fatalf("no sealed reason in the stored signal: %s", held.stored())
					}
					for where, b := range raw() {
						noValueIn(t, backend+" "+where+" while the signal waits", b, value)
					}
				}
				close(held.open)
				res := <-done
				v := viewRun(t, e, id)
				got := v.Tasks[1]
				if got.Status != want || !strings.Contains(got.Reason, "upstream refused ***") {
					t.Errorf("task w %s %q, want %s with the reason masked", got.Status, got.Reason, want)
				}
				if status == engine.TaskFailed && res.Status != engine.StatusFailed {
					t.Errorf("run %s %q, want FAILED", res.Status, res.Reason)
				}
				show, _ := e.Show(context.Background(), id)
				noValueIn(t, "the run shown", show, value)
				if status != "old" {
					for where, b := range raw() {
						noValueIn(t, backend+" "+where+" after the run ended", b, value)
					}
				}
			})
		}
	}
}
