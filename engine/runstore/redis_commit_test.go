package runstore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// redisPair is a store over a real redis-server and a plain client of the
// same server, to look at its keys.
func redisPair(t *testing.T) (*runstore.Redis, *redis.Client) {
	t.Helper()
	addr := redistest.Start(t)
	s, err := runstore.OpenRedis("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return s, c
}

const redisKeys = "wfrun:{wfrun-runs}:"

// assertArchivedOnly checks that run id is its archive alone: the archived
// document, an archived summary, no primary record.
func assertArchivedOnly(t *testing.T, s runstore.Store, c *redis.Client, id, doc string) {
	t.Helper()
	if got, archived := load(t, s, id); !archived || got != doc {
		t.Fatalf("Load(%s) = %s archived=%v, want the archive %s", id, got, archived, doc)
	}
	if n, err := c.Exists(ctx, redisKeys+"p:"+id).Result(); err != nil || n != 0 {
		t.Fatalf("a primary record of %s beside its archive: %d %v", id, n, err)
	}
	list, err := s.List(ctx, runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sm := range list {
		if sm.ID == id && !sm.Archived {
			t.Fatalf("summary of %s after refused commits: %+v", id, sm)
		}
	}
}

// A Commit's change is guarded by a script sent with the transaction: with
// the server's scripts flushed between writes (a restarted or new server,
// SCRIPT FLUSH), a Commit after the archive is still refused and writes
// nothing, and one of a running run is written.
func TestRedisCommitRefusedAfterScriptFlush(t *testing.T) {
	s, c := redisPair(t)
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, "r1", []byte(`{"end":1}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	late := []*runstore.Change{
		{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1"}`), Tasks: []runstore.Task{{Seq: 2, Doc: []byte(`{"t":2}`)}}},
		{Summary: sum("RUNNING", 1), DeleteTasks: []int{1}},
		{Summary: sum("RUNNING", 1)}, // nothing but the summary
		first("r1"),                  // a first write, with the definition
	}
	for i, ch := range late {
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, "r1", ch); !errors.Is(err, runstore.ErrArchived) || errors.Is(err, runstore.ErrUnavailable) {
			t.Fatalf("Commit %d after Archive and SCRIPT FLUSH = %v, want ErrArchived", i, err)
		}
	}
	assertArchivedOnly(t, s, c, "r1", `{"end":1}`)
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "r2", first("r2")); err != nil {
		t.Fatalf("Commit of a running run after SCRIPT FLUSH: %v", err)
	}
	if doc, archived := load(t, s, "r2"); archived || doc != `{"workflowId":"r2","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("Load(r2) = %s archived=%v", doc, archived)
	}
}

// A primary record an earlier version wrote after the archive (it did not
// refuse such a write) hid the archive from Load: a Commit of that run is
// refused and removes it.
func TestRedisCommitRemovesRecordBesideArchive(t *testing.T) {
	s, c := redisPair(t)
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, "r1", []byte(`{"end":1}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, redisKeys+"p:r1", "head", `{"workflowId":"r1","status":"RUNNING"}`, "def", "h1").Err(); err != nil {
		t.Fatal(err)
	}
	if _, archived := load(t, s, "r1"); archived {
		t.Fatal("the record beside the archive is not what Load returns: the case is not set up")
	}
	err := s.Commit(ctx, "r1", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 3, Doc: []byte(`{}`)}}})
	if !errors.Is(err, runstore.ErrArchived) {
		t.Fatalf("Commit beside the archive = %v, want ErrArchived", err)
	}
	assertArchivedOnly(t, s, c, "r1", `{"end":1}`)
}

// Two processes (two stores over one server) write one run, one of them
// archives it: every Commit is written whole before the archive or
// refused after it, and what stays is the archive alone. Commits of other
// runs sharing the refused commits' transactions are written.
func TestRedisCommitArchiveConcurrent(t *testing.T) {
	a, c := redisPair(t)
	b, err := runstore.OpenRedis("redis://" + c.Options().Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for round := range 20 {
		id := fmt.Sprintf("r%d", round)
		if err := a.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var written, refused int
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					seq := 10*w + i + 1
					ch := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"` + id + `","status":"RUNNING"}`),
						Tasks: []runstore.Task{{Seq: seq, Doc: []byte(`{}`)}}}
					if i%3 == 0 {
						ch.DeleteTasks = []int{seq - 1}
					}
					err := b.Commit(ctx, id, ch)
					other := fmt.Sprintf("o%d-%d-%d", round, w, i)
					if oerr := b.Commit(ctx, other, first(other)); oerr != nil {
						t.Errorf("Commit of %s beside %s: %v", other, id, oerr)
					}
					mu.Lock()
					switch {
					case err == nil:
						written++
					case errors.Is(err, runstore.ErrArchived):
						refused++
					default:
						t.Errorf("Commit of %s: %v", id, err)
					}
					mu.Unlock()
				}
			}()
		}
		archived := fmt.Sprintf(`{"end":%d}`, round)
		if err := a.Archive(ctx, id, []byte(archived), sum("COMPLETED", 1)); err != nil {
			t.Fatal(err)
		}
		// After the archive every Commit is refused.
		if err := b.Commit(ctx, id, &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{}`)}); !errors.Is(err, runstore.ErrArchived) {
			t.Fatalf("Commit after Archive returned = %v, want ErrArchived", err)
		}
		wg.Wait()
		if written+refused != 40 {
			t.Fatalf("round %d: %d written + %d refused of 40", round, written, refused)
		}
		assertArchivedOnly(t, a, c, id, archived)
		if _, archived := load(t, a, fmt.Sprintf("o%d-3-9", round)); archived {
			t.Fatal("a run committed beside the refused ones is archived")
		}
	}
}
