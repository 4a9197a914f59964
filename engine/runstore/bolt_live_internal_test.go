package runstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// queued waits until n writes are queued behind the (pretended) leader.
func queued(t *testing.T, b *Bolt, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.gc.mu.Lock()
		got := len(b.gc.queue)
		b.gc.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A run's first Commit and its Archive in one transaction, in that order:
// the Commit found the run not archived, and the Archive that follows it
// in the transaction has the last word, so a later Commit looks the run
// up again and is refused.
func TestBoltCommitThenArchiveInOneTransaction(t *testing.T) {
	ctx := context.Background()
	b, err := OpenBolt(filepath.Join(t.TempDir(), "runs.db"), WithIdleRelease(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Pretend a leader is committing: the writes below queue, in order,
	// and the first of them commits the whole queue when let go.
	b.gc.mu.Lock()
	b.gc.leading = true
	b.gc.mu.Unlock()
	commit := make(chan error, 1)
	go func() {
		commit <- b.Commit(ctx, "r1", &Change{Summary: Summary{Status: "RUNNING"}, Head: []byte(`{}`), DefinitionHash: "h1", Definition: []byte(`{}`)})
	}()
	queued(t, b, 1)
	archive := make(chan error, 1)
	go func() { archive <- b.Archive(ctx, "r1", []byte(`{"end":1}`), Summary{Status: "COMPLETED"}) }()
	queued(t, b, 2)
	b.gc.mu.Lock()
	b.gc.queue[0].lead <- struct{}{}
	b.gc.mu.Unlock()
	if err := <-commit; err != nil {
		t.Fatal(err)
	}
	if err := <-archive; err != nil {
		t.Fatal(err)
	}
	if got := b.Stats().Commits; got != 1 {
		t.Fatalf("%d transactions, want the Commit and the Archive in one", got)
	}
	if err := b.Commit(ctx, "r1", &Change{Summary: Summary{Status: "RUNNING"}, Head: []byte(`{}`)}); !errors.Is(err, ErrArchived) {
		t.Fatalf("Commit after Archive = %v, want ErrArchived", err)
	}
}
