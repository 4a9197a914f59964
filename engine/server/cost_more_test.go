package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// costStore counts the run documents read and records the status each
// list asked for.
type costStore struct {
	loadCounter
	mu    sync.Mutex
	lists []string
}

func (c *costStore) List(ctx context.Context, opt runstore.ListOptions) ([]runstore.Summary, error) {
	c.mu.Lock()
	c.lists = append(c.lists, opt.Status)
	c.mu.Unlock()
	return c.Store.List(ctx, opt)
}

func (c *costStore) listed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lists...)
}

// TestFindTaskSkipsUnreadableRuns: GET /api/tasks/{id} of an id no queue
// holds reads no run document the caller may not read (and holds no task
// scope for); the answer stays a plain 404.
func TestFindTaskSkipsUnreadableRuns(t *testing.T) {
	runs := &costStore{loadCounter: loadCounter{Store: runstore.NewMemory()}}
	ts := newScopedServerYAML(t, scopesYAML, runs)
	for range 3 {
		ts.startGuarded(t, false)
	}
	const missing = "00000000-0000-0000-0000-000000000000"
	for _, who := range []string{"carol", "anonymous", "sam"} {
		before := runs.loads.Load()
		if st, _, body := ts.as(t, who, "GET", "/api/tasks/"+missing, ""); st != 404 {
			t.Errorf("%s: %d %s", who, st, body)
		}
		if n := runs.loads.Load() - before; n != 0 {
			t.Errorf("%s: looking for a task read %d run documents of runs it may not read", who, n)
		}
	}
	// alice holds tasks:poll:*: a worker task of any run may be hers to read.
	before := runs.loads.Load()
	if st, _, body := ts.as(t, "alice", "GET", "/api/tasks/"+missing, ""); st != 404 {
		t.Errorf("alice: %d %s", st, body)
	}
	if n := runs.loads.Load() - before; n < 3 {
		t.Errorf("alice: %d run documents read, want the 3 runs", n)
	}
}

// TestCorrelatedListsOnce: runs by correlation id ask the store for
// RUNNING runs only unless includeClosed, and the batch answers each run
// once, however often its workflow is named.
func TestCorrelatedListsOnce(t *testing.T) {
	runs := &costStore{loadCounter: loadCounter{Store: runstore.NewMemory()}}
	ts := newConductorServer(t, runs)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	ids := map[string]string{}
	for _, corr := range []string{"c1", "c2"} {
		st, _, id := ts.do(t, "POST", "/api/workflow/guarded?correlationId="+corr, `{}`)
		if st != 200 {
			t.Fatalf("start: %d %s", st, id)
		}
		heldAt(t, ts, id, "hold")
		ids[corr] = id
	}
	for _, c := range []struct {
		path, status string
	}{
		{"/api/workflow/guarded/correlated/c1", "RUNNING"},
		{"/api/workflow/guarded/correlated/c1?includeClosed=true", ""},
	} {
		before := len(runs.listed())
		st, _, body := ts.do(t, "GET", c.path, "")
		var got []struct {
			WorkflowID string `json:"workflowId"`
		}
		if err := json.Unmarshal([]byte(body), &got); st != 200 || err != nil || len(got) != 1 || got[0].WorkflowID != ids["c1"] {
			t.Errorf("GET %s: %d %s", c.path, st, body)
		}
		if l := runs.listed()[before:]; len(l) != 1 || l[0] != c.status {
			t.Errorf("GET %s listed %q, want one list of status %q", c.path, l, c.status)
		}
	}
	st, _, body := ts.do(t, "POST", "/api/workflow/correlated/batch", `{"workflowNames":["guarded","guarded"],"correlationIds":["c1","c2","c3"]}`)
	var got map[string][]struct {
		WorkflowID string `json:"workflowId"`
	}
	if err := json.Unmarshal([]byte(body), &got); st != 200 || err != nil {
		t.Fatalf("batch: %d %s", st, body)
	}
	for corr, want := range map[string]string{"c1": ids["c1"], "c2": ids["c2"], "c3": ""} {
		list, ok := got[corr]
		wantN := 1
		if want == "" {
			wantN = 0
		}
		if !ok || len(list) != wantN || (wantN == 1 && list[0].WorkflowID != want) {
			t.Errorf("batch %s: %+v, want %q once", corr, list, want)
		}
	}
}

// TestTaskSearchSortedPages: a sorted task search pages as one whole
// page does, page after page (the page's runs decoded again), and an
// unsorted one reads each run once.
func TestTaskSearchSortedPages(t *testing.T) {
	runs := &costStore{loadCounter: loadCounter{Store: runstore.NewMemory()}}
	ts := newConductorServer(t, runs)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	for range 3 {
		st, _, id := ts.do(t, "POST", "/api/workflow/guarded", `{}`)
		if st != 200 {
			t.Fatalf("start: %d %s", st, id)
		}
		heldAt(t, ts, id, "hold")
	}
	ids := func(q string) (int, []string) {
		t.Helper()
		st, _, body := ts.do(t, "GET", "/api/tasks/search-v2?"+q, "")
		var res struct {
			TotalHits int `json:"totalHits"`
			Results   []struct {
				TaskID string `json:"taskId"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &res); st != 200 || err != nil {
			t.Fatalf("search %s: %d %s", q, st, body)
		}
		var out []string
		for _, r := range res.Results {
			out = append(out, r.TaskID)
		}
		return res.TotalHits, out
	}
	for _, sort := range []string{"", "&sort=scheduledTime:DESC", "&sort=scheduledTime:ASC"} {
		total, whole := ids("size=100" + sort)
		if total != 3 || len(whole) != 3 {
			t.Fatalf("search%s: %d %v", sort, total, whole)
		}
		for i := range whole {
			before := runs.loads.Load()
			n, page := ids(fmt.Sprintf("start=%d&size=1%s", i, sort))
			if n != 3 || len(page) != 1 || page[0] != whole[i] {
				t.Errorf("search%s page %d: %d %v, want %s", sort, i, n, page, whole[i])
			}
			if loads := runs.loads.Load() - before; sort == "" && loads != 3 {
				t.Errorf("unsorted search page %d read %d run documents, want 3", i, loads)
			}
		}
	}
}
