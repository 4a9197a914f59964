package server_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// TestSearchSortTiesAreOrdered: runs started in the same millisecond (a
// stopped clock) are ordered by workflowId among themselves, in the
// direction asked, whatever the sort field: paging through a search one
// run a page sees each run exactly once, in the same order as one page of
// all of them, and DESC is ASC reversed.
func TestSearchSortTiesAreOrdered(t *testing.T) {
	ts := newConductorServerWith(t, nil, []engine.Option{engine.WithClock(engine.NewManualClock(time.Now()))})
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", `{"name":"tied","version":1,"schemaVersion":2,"tasks":[
	  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	var ids []string
	for range 5 {
		_, _, id := ts.do(t, "POST", "/api/workflow/tied", `{}`)
		ids = append(ids, id)
	}
	byID := slices.Clone(ids)
	slices.Sort(byID)
	search := func(sort string, start, size int) []string {
		st, _, body := ts.do(t, "GET", "/api/workflow/search-v2?query=workflowType%3Dtied&sort="+sort+"&start="+itoa(start)+"&size="+itoa(size), "")
		var sr struct {
			Results []struct {
				WorkflowID string `json:"workflowId"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &sr); st != 200 || err != nil {
			t.Fatalf("search %s: %d %s", sort, st, body)
		}
		var out []string
		for _, r := range sr.Results {
			out = append(out, r.WorkflowID)
		}
		return out
	}
	for _, field := range []string{"startTime", "updateTime", "status", "workflowType"} {
		asc, desc := search(field+":ASC", 0, 10), search(field+":DESC", 0, 10)
		if strings.Join(asc, ",") != strings.Join(byID, ",") {
			t.Errorf("sort %s:ASC over ties = %v, want by workflowId %v", field, asc, byID)
		}
		rev := slices.Clone(desc)
		slices.Reverse(rev)
		if strings.Join(rev, ",") != strings.Join(asc, ",") {
			t.Errorf("sort %s:DESC = %v, want ASC reversed (%v)", field, desc, asc)
		}
		var paged []string
		for i := range len(ids) {
			paged = append(paged, search(field+":ASC", i, 1)...)
		}
		if strings.Join(paged, ",") != strings.Join(asc, ",") {
			t.Errorf("sort %s:ASC one run a page = %v, want %v", field, paged, asc)
		}
	}
}
