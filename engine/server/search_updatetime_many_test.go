package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestSearchOfManyOlderRuns: over 1,000 ended runs whose index entries
// have no updateTime, a search sorted by updateTime reads each run once,
// to derive it, and keeps it in its index entry: the next search reads no
// run. A search that neither sorts nor filters by updateTime reads only
// the runs of its page (to answer their updateTime).
func TestSearchOfManyOlderRuns(t *testing.T) {
	const n = 1000
	runs := newBackfilled()
	ts := newConductorServer(t, runs)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", `{"name":"older_many","version":1,"schemaVersion":2,"tasks":[
	  {"name":"s","taskReferenceName":"s","type":"SET_VARIABLE","inputParameters":{"v":1}}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	for i := range n {
		if st, _, body := ts.do(t, "POST", "/api/workflow/older_many", `{}`); st != 200 {
			t.Fatalf("start %d: %d %s", i, st, body)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		all, err := runs.mem.List(context.Background(), runstore.ListOptions{Status: "COMPLETED"})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) == n {
			for _, s := range all {
				if s.UpdateTime != 0 {
					t.Fatalf("run %s's index entry has updateTime %d, want none", s.ID, s.UpdateTime)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs completed", len(all), n)
		}
	}
	search := func(sort string) ([]string, int64) {
		return searchOlderMany(t, ts, runs, n, sort)
	}
	if _, loads := search("startTime:DESC"); loads > 10 {
		t.Errorf("a search by startTime read %d runs, want at most its page's 10", loads)
	}
	first, loads := search("updateTime:DESC")
	if loads > n {
		t.Errorf("the first search by updateTime read %d runs, want each at most once", loads)
	}
	second, loads := search("updateTime:DESC")
	if loads != 0 {
		t.Errorf("the second search by updateTime read %d runs, want none", loads)
	}
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("the second search's page %v differs from the first's %v", second, first)
	}
	// A server started again over the store (nothing kept in its
	// memory) reads the updateTimes from the index entries too.
	again := newConductorServer(t, runs)
	third, loads := searchOlderMany(t, again, runs, n, "updateTime:DESC")
	if loads != 0 {
		t.Errorf("a search by updateTime from a server started again read %d runs, want none", loads)
	}
	if fmt.Sprint(first) != fmt.Sprint(third) {
		t.Errorf("the page from a server started again %v differs from the first's %v", third, first)
	}
}

func searchOlderMany(t *testing.T, ts *conductorServer, runs *backfilled, n int, sort string) ([]string, int64) {
	t.Helper()
	before := runs.loads.Load()
	began := time.Now()
	st, _, body := ts.do(t, "GET", "/api/workflow/search?start=0&size=10&sort="+sort+"&query=workflowType%20%3D%20older_many", "")
	var res struct {
		TotalHits int `json:"totalHits"`
		Results   []struct {
			WorkflowID string `json:"workflowId"`
			UpdateTime string `json:"updateTime"`
		} `json:"results"`
	}
	if st != 200 || json.Unmarshal([]byte(body), &res) != nil || res.TotalHits != n || len(res.Results) != 10 {
		t.Fatalf("search %s: %d %.300s", sort, st, body)
	}
	loads := runs.loads.Load() - before
	t.Logf("search sorted by %s over %d older runs: %d runs read, %v", sort, n, loads, time.Since(began))
	var out []string
	for _, r := range res.Results {
		if r.UpdateTime == "0" {
			t.Errorf("search %s: run %s answers updateTime 0", sort, r.WorkflowID)
		}
		out = append(out, r.WorkflowID+"@"+r.UpdateTime)
	}
	return out, loads
}
