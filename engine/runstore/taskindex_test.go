package runstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// A store that held runs before it kept the task index (an earlier wfrun
// wrote them) says its index is not complete: a task id it does not know
// may be a task of one of those runs. The ids written since are known.
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
	if run, complete, err := tr.TaskRun(ctx, "unknown"); err != nil || run != "" || complete {
		t.Fatalf("TaskRun(unknown) over earlier runs = %q %v %v, want not complete", run, complete, err)
	}
	c := first("new")
	c.Tasks = []runstore.Task{{Seq: 1, Doc: []byte(`{"seq":1}`), ID: "tn"}}
	if err := s.Commit(ctx, "new", c); err != nil {
		t.Fatal(err)
	}
	if run, complete, err := tr.TaskRun(ctx, "tn"); err != nil || run != "new" || complete {
		t.Fatalf("TaskRun(tn) = %q %v %v, want new, not complete", run, complete, err)
	}
}
