package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// lookStore is a memory run store that tells each Load's run id on looks.
type lookStore struct {
	*runstore.Memory
	looks chan string
}

func (s *lookStore) Load(ctx context.Context, id string) ([]byte, bool, error) {
	doc, archived, err := s.Memory.Load(ctx, id)
	select {
	case s.looks <- id:
	default:
	}
	return doc, archived, err
}

type claimed struct {
	existing string
	err      error
	stored   bool // the answered run was in the store when it was answered
}

// TestReturnExistingWaitsForTheHolderToBeStored: a RETURN_EXISTING start
// whose key is held by a run still being started (claimed, not stored yet)
// answers that run only once it is stored, as its caller reads it right
// away (a SUB_WORKFLOW follows it; a client GETs it): it never answers an
// id the store does not know. When the holder's start fails instead (its
// claim is released), the waiting start takes the key.
func TestReturnExistingWaitsForTheHolderToBeStored(t *testing.T) {
	for _, tc := range []struct {
		name      string
		holderEnd func(t *testing.T, e *engine.Engine, def *engine.Definition)
		want      string
	}{
		{"holder stored", func(t *testing.T, e *engine.Engine, def *engine.Definition) {
			if _, err := e.Start(context.Background(), def, nil, engine.WithRunID("run-1"), engine.WithIdempotencyKey("order-42")); err != nil {
				t.Fatal(err)
			}
		}, "run-1"},
		{"holder's start failed", func(t *testing.T, e *engine.Engine, _ *engine.Definition) {
			if err := e.ReleaseIdempotencyKey(context.Background(), "charge", "order-42", "run-1"); err != nil {
				t.Fatal(err)
			}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &lookStore{Memory: runstore.NewMemory(), looks: make(chan string, 1000)}
			e, err := engine.New(engine.WithRunStore(st), engine.WithRegistry(tasks.NewDefaultRegistry()))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			def, err := e.Parse([]byte(`{"name":"charge","tasks":[{"name":"noop","taskReferenceName":"n","type":"INLINE",
			  "inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			if existing, err := e.ClaimIdempotencyKey(ctx, "charge", "order-42", engine.IdempotencyFail, "run-1"); existing != "" || err != nil {
				t.Fatalf("first claim: %q %v", existing, err)
			}
			done := make(chan claimed, 1)
			go func() {
				var c claimed
				c.existing, c.err = e.ClaimIdempotencyKey(ctx, "charge", "order-42", engine.IdempotencyReturnExisting, "run-2")
				if c.existing != "" {
					_, _, lerr := st.Memory.Load(context.Background(), c.existing)
					c.stored = lerr == nil
				}
				done <- c
			}()
			// The second start looks at run-1 twice (it waits for it)
			// before anything answers.
			for n := 0; n < 2; {
				select {
				case id := <-st.looks:
					if id == "run-1" {
						n++
					}
				case c := <-done:
					t.Fatalf("answered %q (stored %v, %v) while the holder was being started", c.existing, c.stored, c.err)
				case <-ctx.Done():
					t.Fatal("the second start never looked at the holder")
				}
			}
			tc.holderEnd(t, e, def)
			var c claimed
			select {
			case c = <-done:
			case <-ctx.Done():
				t.Fatal("the second start never answered")
			}
			if c.err != nil || c.existing != tc.want || (c.existing != "" && !c.stored) {
				t.Fatalf("RETURN_EXISTING answered %q (stored %v) %v, want %q", c.existing, c.stored, c.err, tc.want)
			}
		})
	}
}

// TestDeletedRunFreesItsKey: deleting an ended run gives up its idempotency
// key at once: a start with the key neither waits for the deleted run (as
// for one being started) nor is refused because of it.
func TestDeletedRunFreesItsKey(t *testing.T) {
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	def, err := e.Parse([]byte(`{"name":"charge","tasks":[{"name":"noop","taskReferenceName":"n","type":"INLINE",
	  "inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if existing, err := e.ClaimIdempotencyKey(ctx, "charge", "order-7", engine.IdempotencyFail, "run-1"); existing != "" || err != nil {
		t.Fatalf("first claim: %q %v", existing, err)
	}
	if _, err := e.Start(ctx, def, nil, engine.WithRunID("run-1"), engine.WithIdempotencyKey("order-7")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ClaimIdempotencyKey(ctx, "charge", "order-7", engine.IdempotencyFail, "run-2"); !errors.Is(err, engine.ErrIdempotencyConflict) {
		t.Fatalf("FAIL while run-1 is stored: %v", err)
	}
	if err := e.DeleteRun(ctx, "run-1"); err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []string{engine.IdempotencyFail, engine.IdempotencyReturnExisting} {
		id := "run-" + strategy
		if existing, err := e.ClaimIdempotencyKey(ctx, "charge", "order-7", strategy, id); existing != "" || err != nil {
			t.Fatalf("%s after the holder was deleted: %q %v", strategy, existing, err)
		}
		if err := e.ReleaseIdempotencyKey(ctx, "charge", "order-7", id); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.DeleteRun(ctx, "run-1"); !errors.Is(err, runstore.ErrNotFound) {
		t.Errorf("deleting it again: %v", err)
	}
}
