package runstore_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// A store that held runs before it kept their tags (an earlier wfrun wrote
// them) says not every run has its tag: a task id whose tag no run has may
// be a task of one of those runs. The tags written since are kept.
func TestTaskIndexIncompleteOverEarlierRuns(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
		defer c.Close()
		s := runstore.NewRedis(c)
		// A run an earlier wfrun wrote: its summary in the runs' index,
		// no task index.
		if err := c.HSet(ctx, "wfrun:{wfrun-runs}:index", "old", `{"id":"old"}`).Err(); err != nil {
			t.Fatal(err)
		}
		checkIncomplete(t, s)
	})
	t.Run("bolt", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "runs.db")
		s, err := runstore.OpenBolt(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, "old", first("old")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		// The file as an earlier wfrun left it: no "tags" bucket.
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("tags")) }); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s, err = runstore.OpenBolt(p)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		checkIncomplete(t, s)
	})
}

func checkIncomplete(t *testing.T, s runstore.Store) {
	t.Helper()
	tr := s.(runstore.TaskRunReader)
	tag := runstore.RunTag("new")
	if runs, complete, err := tr.RunsTagged(ctx, tag); err != nil || len(runs) != 0 || complete {
		t.Fatalf("RunsTagged(%s) over earlier runs = %q %v %v, want not complete", tag, runs, complete, err)
	}
	c := first("new")
	c.RunTag = tag
	if err := s.Commit(ctx, "new", c); err != nil {
		t.Fatal(err)
	}
	if runs, complete, err := tr.RunsTagged(ctx, tag); err != nil || len(runs) != 1 || runs[0] != "new" || complete {
		t.Fatalf("RunsTagged(%s) = %q %v %v, want new, not complete", tag, runs, complete, err)
	}
}

// A bolt store keeps its runs' tags in memory: made from the file's run
// ids at the first look (complete for a file made empty), kept with this
// process's writes and over a close and reopen when nobody else wrote the
// file meanwhile, made again when another process (another store over the
// same file, which waits for the first to hand it over) wrote it.
func TestBoltTagsFollowTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	open := func() *runstore.Bolt {
		s, err := runstore.OpenBolt(p, runstore.WithLockTimeout(5*time.Second), runstore.WithIdleRelease(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	commit := func(s *runstore.Bolt, id string) {
		t.Helper()
		c := first(id)
		c.RunTag = runstore.RunTag(id)
		if err := s.Commit(ctx, id, c); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *runstore.Bolt, step, id string, want bool, builds int) {
		t.Helper()
		runs, complete, err := s.RunsTagged(ctx, runstore.RunTag(id))
		if err != nil || slices.Contains(runs, id) != want || !complete {
			t.Fatalf("%s: RunsTagged(tag of %s) = %q %v %v, want it there: %v, complete", step, id, runs, complete, err, want)
		}
		if n := s.TagBuilds(); n != builds {
			t.Fatalf("%s: tags made %d times, want %d", step, n, builds)
		}
	}
	a := open()
	commit(a, "x1")
	check(a, "first look", "x1", true, 1)
	commit(a, "x2")
	check(a, "written here", "x2", true, 1)
	time.Sleep(100 * time.Millisecond) // a lets the file go (idle)
	check(a, "reopened, nobody else wrote", "x2", true, 1)
	b := open()
	commit(b, "y1")
	check(b, "the other store's first look", "x1", true, 1)
	check(a, "written by the other store", "y1", true, 2)
	if err := b.Archive(ctx, "x1", []byte(`{}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	check(a, "archived by the other store", "x1", true, 3)
	if err := b.Delete(ctx, "x1"); err != nil {
		t.Fatal(err)
	}
	check(b, "deleted here", "x1", false, 1)
	check(a, "deleted by the other store", "x1", false, 4)
}
