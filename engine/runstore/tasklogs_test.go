package runstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// TestTaskLogger: every store keeps a run's task log entries in order,
// keeps the newest max of them, keeps them per run, keeps them across a
// reopen (bolt) and deletes them with the run.
func TestTaskLogger(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		open func(t *testing.T) (runstore.Store, func() runstore.Store)
	}{
		{"memory", func(t *testing.T) (runstore.Store, func() runstore.Store) {
			m := runstore.NewMemory()
			return m, func() runstore.Store { return m }
		}},
		{"bolt", func(t *testing.T) (runstore.Store, func() runstore.Store) {
			path := filepath.Join(t.TempDir(), "runs.db")
			open := func() runstore.Store {
				b, err := runstore.OpenBolt(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				return b
			}
			return open(), open
		}},
		{"redis", func(t *testing.T) (runstore.Store, func() runstore.Store) {
			url := "redis://" + redistest.Start(t)
			open := func() runstore.Store {
				r, err := runstore.OpenRedis(url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = r.Close() })
				return r
			}
			return open(), open
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, reopen := c.open(t)
			tl := st.(runstore.TaskLogger)
			for i := range 4 {
				if err := appendOne(ctx, tl, "run-a", fmt.Sprintf("a%d", i), 3); err != nil {
					t.Fatal(err)
				}
			}
			// A batch: numbered on from the newest entry, trimmed in the
			// same write.
			if err := tl.AppendTaskLogs(ctx, "run-a", 2, func(seq uint64) ([]byte, error) {
				return []byte(fmt.Sprintf("a%d", seq)), nil
			}, 3); err != nil {
				t.Fatal(err)
			}
			if err := appendOne(ctx, tl, "run-b", "b0", 3); err != nil {
				t.Fatal(err)
			}
			// A rewrite changes what it returns data for, in place.
			if err := tl.RewriteTaskLogs(ctx, "run-a", func(e runstore.TaskLogEntry) ([]byte, error) {
				if e.Seq == 4 {
					return []byte("A4"), nil
				}
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			if c.name == "bolt" {
				_ = st.Close()
				st = reopen()
				tl = st.(runstore.TaskLogger)
			}
			got, err := tl.TaskLogs(ctx, "run-a")
			if err != nil || entries(got) != "[3:a3 4:A4 5:a5]" {
				t.Fatalf("run-a: %s %v", entries(got), err)
			}
			if got, _ := tl.TaskLogs(ctx, "run-b"); entries(got) != "[0:b0]" {
				t.Fatalf("run-b: %s", entries(got))
			}
			if got, err := tl.TaskLogs(ctx, "run-none"); err != nil || len(got) != 0 {
				t.Fatalf("run-none: %s %v", entries(got), err)
			}
			// Deleted with the run (an ended one: archived).
			if err := st.Archive(ctx, "run-a", []byte(`{"workflowId":"run-a","status":"COMPLETED"}`), runstore.Summary{ID: "run-a", Status: "COMPLETED"}); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, "run-a"); err != nil {
				t.Fatal(err)
			}
			if got, err := tl.TaskLogs(ctx, "run-a"); err != nil || len(got) != 0 {
				t.Fatalf("run-a after Delete: %s %v", entries(got), err)
			}
			if err := st.Delete(ctx, "run-a"); !errors.Is(err, runstore.ErrNotFound) {
				t.Fatalf("second Delete: %v", err)
			}
			if got, _ := tl.TaskLogs(ctx, "run-b"); len(got) != 1 {
				t.Fatalf("run-b after run-a's Delete: %s", entries(got))
			}
		})
	}
}

func appendOne(ctx context.Context, tl runstore.TaskLogger, id, entry string, max int) error {
	return tl.AppendTaskLogs(ctx, id, 1, func(uint64) ([]byte, error) { return []byte(entry), nil }, max)
}

// entries shows stored entries as [seq:data ...].
func entries(es []runstore.TaskLogEntry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%d:%s", e.Seq, e.Data))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestSummaryReader: every store answers one run's summary, live and
// archived, and ErrNotFound for a run it does not hold.
func TestSummaryReader(t *testing.T) {
	ctx := context.Background()
	for name, open := range map[string]func(t *testing.T) runstore.Store{
		"memory": func(*testing.T) runstore.Store { return runstore.NewMemory() },
		"bolt": func(t *testing.T) runstore.Store {
			b, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
		"redis": func(t *testing.T) runstore.Store {
			r, err := runstore.OpenRedis("redis://" + redistest.Start(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close() })
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			sr := st.(runstore.SummaryReader)
			if _, err := sr.Summary(ctx, "sum-1"); !errors.Is(err, runstore.ErrNotFound) {
				t.Fatalf("missing run: %v", err)
			}
			ch := &runstore.Change{Summary: runstore.Summary{ID: "sum-1", WorkflowType: "w", Status: "RUNNING"},
				Head: []byte(`{"workflowId":"sum-1","status":"RUNNING"}`), DefinitionHash: "h", Definition: []byte(`{}`)}
			if err := st.Commit(ctx, "sum-1", ch); err != nil {
				t.Fatal(err)
			}
			if s, err := sr.Summary(ctx, "sum-1"); err != nil || s.Status != "RUNNING" || s.Archived {
				t.Fatalf("live: %+v %v", s, err)
			}
			if err := st.Archive(ctx, "sum-1", []byte(`{"workflowId":"sum-1","status":"COMPLETED"}`), runstore.Summary{ID: "sum-1", Status: "COMPLETED"}); err != nil {
				t.Fatal(err)
			}
			if s, err := sr.Summary(ctx, "sum-1"); err != nil || s.Status != "COMPLETED" || !s.Archived {
				t.Fatalf("archived: %+v %v", s, err)
			}
		})
	}
}
