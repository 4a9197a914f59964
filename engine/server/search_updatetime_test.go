package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// olderIndex stores runs as a wfrun that kept no updateTime did: the
// run's index entry (its summary) and its head without one.
type olderIndex struct{ runstore.Store }

func withoutUpdateTime(ch *runstore.Change) *runstore.Change {
	c := *ch
	c.Summary.UpdateTime = 0
	if len(c.Head) > 0 {
		var head map[string]json.RawMessage
		if json.Unmarshal(c.Head, &head) == nil {
			delete(head, "updateTime")
			c.Head, _ = json.Marshal(head)
			c.HandOver = false
		}
	}
	return &c
}

func (o *olderIndex) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	return o.Store.Commit(ctx, id, withoutUpdateTime(ch))
}

func (o *olderIndex) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	return o.Store.Restore(ctx, id, withoutUpdateTime(ch))
}

func (o *olderIndex) Archive(ctx context.Context, id string, archived []byte, sum runstore.Summary) error {
	sum.UpdateTime = 0
	return o.Store.Archive(ctx, id, archived, sum)
}

// backfilled counts the runs loaded from an olderIndex whose entries take
// the updateTime a search backfills (runstore.UpdateTimeBackfiller), as
// the stores of this wfrun do.
type backfilled struct {
	loadCounter
	mem *runstore.Memory
}

func newBackfilled() *backfilled {
	mem := runstore.NewMemory()
	return &backfilled{loadCounter: loadCounter{Store: &olderIndex{Store: mem}}, mem: mem}
}

func (b *backfilled) BackfillUpdateTime(ctx context.Context, id string, updateTime int64) error {
	return b.mem.BackfillUpdateTime(ctx, id, updateTime)
}

// TestSearchOfOlderRunsUsesTheirDerivedUpdateTime: runs whose index
// entries were written before they kept updateTime (olderIndex) show, in
// GET /api/workflow/{id}, the updateTime their records derive from the
// times they keep; a search through the Go client sorts them by it,
// filters on it and answers it, as Conductor's index holds each run's
// updateTime: run a, started first but changed last, comes after run b
// in updateTime:ASC, first in DESC, alone for updateTime > b's.
func TestSearchOfOlderRunsUsesTheirDerivedUpdateTime(t *testing.T) {
	clock := engine.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	runs := newBackfilled()
	ts := newConductorServerWith(t, runs, []engine.Option{engine.WithClock(clock)})
	c := newE2EClient(t, ts)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", `{"name":"older_runs","version":1,"schemaVersion":2,"tasks":[
	  {"name":"w1","taskReferenceName":"w1","type":"WAIT"},{"name":"w2","taskReferenceName":"w2","type":"WAIT"}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	a := c.start("older_runs")
	clock.Advance(time.Second)
	b := c.start("older_runs")
	clock.Advance(9 * time.Second)
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+a+"/w1/COMPLETED", `{}`); st != 200 {
		t.Fatalf("complete a's w1: %d %s", st, body)
	}
	c.await("a's w2", func() error {
		if wf := c.get(a); len(wf.Tasks) != 2 {
			return fmt.Errorf("tasks %s", describeTasks(wf))
		}
		return nil
	})
	updated := map[string]int64{}
	for _, id := range []string{a, b} {
		wf := c.get(id)
		if wf.UpdateTime == 0 {
			t.Fatalf("run %s shows updateTime 0", id)
		}
		updated[id] = wf.UpdateTime
	}
	if updated[a] <= updated[b] {
		t.Fatalf("a's updateTime %d, b's %d: want a's later", updated[a], updated[b])
	}
	order := func(sort, query string) string {
		t.Helper()
		res := c.search(0, 10, sort, "*", query)
		var out []string
		for _, s := range res.Results {
			name := map[string]string{a: "a", b: "b"}[s.WorkflowId]
			if got := strconv.FormatInt(updated[s.WorkflowId], 10); s.UpdateTime != got {
				t.Errorf("search %s %q: %s's updateTime %s, want %s as GET shows", sort, query, name, s.UpdateTime, got)
			}
			out = append(out, name)
		}
		return strings.Join(out, " ")
	}
	searches := func() {
		t.Helper()
		for _, tc := range []struct{ sort, query, want string }{
			{"updateTime:ASC", "workflowType = older_runs", "b a"},
			{"updateTime:DESC", "workflowType = older_runs", "a b"},
			{"startTime:ASC", "workflowType = older_runs", "a b"},
			{"updateTime:ASC", "updateTime > " + strconv.FormatInt(updated[b], 10), "a"},
		} {
			if got := order(tc.sort, tc.query); got != tc.want {
				t.Errorf("search %s %q: %s, want %s", tc.sort, tc.query, got, tc.want)
			}
		}
	}
	searches()
	// Running, the runs were read for their updateTime once: it is in
	// their index entries now, which the next searches read.
	before := runs.loads.Load()
	searches()
	if n := runs.loads.Load() - before; n != 0 {
		t.Errorf("searches of running runs read %d run documents after the first", n)
	}
	if all, err := runs.mem.List(context.Background(), runstore.ListOptions{}); err != nil || len(all) != 2 ||
		all[0].UpdateTime != updated[all[0].ID] || all[1].UpdateTime != updated[all[1].ID] {
		t.Errorf("index entries after a search: %+v, %v; want the derived updateTimes %v", all, err, updated)
	}
	// Ended (b first), the runs are read for their updateTime once, not
	// at every search.
	for _, id := range []string{b, a} {
		clock.Advance(time.Second)
		c.terminate(id, "done")
		wf := c.get(id)
		updated[id] = wf.UpdateTime
	}
	searches()
	before = runs.loads.Load()
	searches()
	if n := runs.loads.Load() - before; n != 0 {
		t.Errorf("searches of ended runs read %d run documents", n)
	}
}
