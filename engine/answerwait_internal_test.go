package engine

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/runsecrets"
)

// answerLooks counts the looks at answer slots (TakeSignals of "id/key").
type answerLooks struct {
	runstore.Store
	n atomic.Int64
}

func (s *answerLooks) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	if strings.Contains(id, "/") {
		s.n.Add(1)
	}
	return s.Store.TakeSignals(ctx, id)
}

// TestAwaitAnswerLooks: waiting for a live runner that has not answered
// yet, Pause and UpdateVariables look at the store no more than about ten
// times a second (answerPollMax), not fifty.
func TestAwaitAnswerLooks(t *testing.T) {
	const wait = time.Second
	tests := []struct {
		name  string
		await func(ctx context.Context, e *Engine, id string) error
	}{
		{"pause", func(ctx context.Context, e *Engine, id string) error {
			_, err := e.awaitPause(ctx, id, pauseSignal, StatusPaused)
			return err
		}},
		{"variables", func(ctx context.Context, e *Engine, id string) error {
			sec, err := runsecrets.New(id, nil, e.keyring)
			if err != nil {
				return err
			}
			return e.awaitVariablesOutcome(ctx, id, variablesKey(time.Now()), sec)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rs := &answerLooks{Store: runstore.NewMemory()}
			e, err := New(WithRunStore(rs))
			if err != nil {
				t.Fatal(err)
			}
			def, err := e.Parse([]byte(`{"name":"held","tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.newRun(ctx, def, nil, &runConfig{principal: localPrincipal}, "", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			// Another process executes the run and has not answered.
			if err := rs.ReleaseLease(ctx, r.id, e.owner); err != nil {
				t.Fatal(err)
			}
			if err := rs.AcquireLease(ctx, r.id, runstore.NewLease("another-process"), time.Minute); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			start := time.Now()
			if err := tt.await(wctx, e, r.id); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("await: %v, want the wait to last until its context ended", err)
			}
			elapsed := time.Since(start)
			// The backoff's first looks (20, 40, 80 ms), then one every
			// answerPollMax.
			limit := int64(elapsed/answerPollMax) + 5
			if n := rs.n.Load(); n > limit {
				t.Fatalf("%d looks in %v, want at most %d", n, elapsed, limit)
			} else {
				t.Logf("%d looks in %v", n, elapsed)
			}
		})
	}
}
