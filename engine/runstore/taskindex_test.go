package runstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

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
}

func checkIncomplete(t *testing.T, s runstore.Store) {
	t.Helper()
	tr := s.(runstore.TaskRunReader)
	if runs, complete, err := tr.RunsTagged(ctx, "aa"); err != nil || len(runs) != 0 || complete {
		t.Fatalf("RunsTagged(aa) over earlier runs = %q %v %v, want not complete", runs, complete, err)
	}
	c := first("new")
	c.RunTag = "aa"
	if err := s.Commit(ctx, "new", c); err != nil {
		t.Fatal(err)
	}
	if runs, complete, err := tr.RunsTagged(ctx, "aa"); err != nil || len(runs) != 1 || runs[0] != "new" || complete {
		t.Fatalf("RunsTagged(aa) = %q %v %v, want new, not complete", runs, complete, err)
	}
}
