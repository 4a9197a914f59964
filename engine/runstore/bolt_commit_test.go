package runstore_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A bolt store that found a run not archived does not look again while
// it has the file open; another process archiving the run takes the file
// from it first, and the store's next Commit of the run looks again and
// is refused.
func TestBoltCommitRefusedAfterArchiveElsewhere(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	a, err := runstore.OpenBolt(p, runstore.WithLockTimeout(5*time.Second), runstore.WithIdleRelease(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := runstore.OpenBolt(p, runstore.WithLockTimeout(5*time.Second), runstore.WithIdleRelease(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for round := range 3 {
		id := fmt.Sprintf("r%d", round)
		for i := range 3 {
			ch := first(id)
			ch.Tasks = []runstore.Task{{Seq: i + 1, Doc: []byte(`{}`)}}
			if err := a.Commit(ctx, id, ch); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Archive(ctx, id, []byte(`{"end":1}`), sum("COMPLETED", 1)); err != nil {
			t.Fatal(err)
		}
		err := a.Commit(ctx, id, &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{}`)})
		if !errors.Is(err, runstore.ErrArchived) {
			t.Fatalf("Commit after another store's Archive = %v, want ErrArchived", err)
		}
		if doc, archived := load(t, a, id); !archived || doc != `{"end":1}` {
			t.Fatalf("Load = %s archived=%v", doc, archived)
		}
	}
}

// Writers commit a run, from its first write on, while the same store
// archives it: every Commit after Archive returned is refused and the
// archive alone stays, whether the writes share transactions with the
// archive or not (a first write found the run not archived in the
// transaction that archives it).
func TestBoltCommitArchiveConcurrent(t *testing.T) {
	for _, be := range backends() {
		if be.name == "redis" || be.name == "memory" {
			continue
		}
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t)
			for round := range 30 {
				id := fmt.Sprintf("r%d", round)
				var wg sync.WaitGroup
				errs := make(chan error, 40)
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range 10 {
							ch := first(id)
							ch.Tasks = []runstore.Task{{Seq: 10*w + i + 1, Doc: []byte(`{}`)}}
							if err := s.Commit(ctx, id, ch); err != nil && !errors.Is(err, runstore.ErrArchived) {
								errs <- err
							}
						}
					}()
				}
				archived := fmt.Sprintf(`{"end":%d}`, round)
				if err := s.Archive(ctx, id, []byte(archived), sum("COMPLETED", 1)); err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					if err := s.Commit(ctx, id, &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{}`)}); !errors.Is(err, runstore.ErrArchived) {
						t.Fatalf("Commit %d after Archive returned = %v, want ErrArchived", i, err)
					}
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatal(err)
				}
				if doc, isArchived := load(t, s, id); !isArchived || doc != archived {
					t.Fatalf("Load = %s archived=%v, want the archive", doc, isArchived)
				}
			}
		})
	}
}
