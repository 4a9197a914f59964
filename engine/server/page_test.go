package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPageBounds: the paged lists (workflow and task searches, a run's
// tasks) never overflow on huge start/size values (no 500, no panic), and
// refuse negative or non-integer ones with 400; a search page larger than
// Conductor's 5000 is refused as Conductor refuses it.
func TestPageBounds(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/guarded", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	heldAt(t, ts, id, "hold")
	const huge = "9223372036854775807"
	searches := []string{"/api/workflow/search", "/api/tasks/search", "/api/tasks/search-v2", "/api/workflow/search-by-tasks", "/api/workflow/search-by-tasks-v2"}
	type tc struct {
		path, want string
		status     int
		hits       int // results expected (status 200), -1: not checked
	}
	var cases []tc
	for _, p := range searches {
		cases = append(cases,
			tc{p + "?size=" + huge, "Cannot return more than 5000", 400, -1},
			tc{p + "?start=1&size=" + huge, "Cannot return more than 5000", 400, -1},
			tc{p + "?size=5001", "Cannot return more than 5000", 400, -1},
			tc{p + "?size=-1", "size must be a non-negative integer", 400, -1},
			tc{p + "?start=-1", "start must be a non-negative integer", 400, -1},
			tc{p + "?start=x", "start must be a non-negative integer", 400, -1},
			tc{p + "?start=" + huge + "&size=5000", "", 200, 0},
			tc{p + "?start=" + huge, "", 200, 0},
			tc{p + "?size=5000", "", 200, 1},
		)
	}
	cases = append(cases,
		tc{"/api/workflow/" + id + "/tasks?count=" + huge, "", 200, 1},
		tc{"/api/workflow/" + id + "/tasks?start=" + huge + "&count=" + huge, "", 200, 0},
		tc{"/api/workflow/" + id + "/tasks?start=1&count=" + huge, "", 200, 0},
		tc{"/api/workflow/" + id + "/tasks?count=-1", "count must be a non-negative integer", 400, -1},
	)
	for _, c := range cases {
		st, _, body := ts.do(t, "GET", c.path, "")
		if st != c.status || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %s, want %d with %q", c.path, st, body, c.status, c.want)
			continue
		}
		if c.hits >= 0 {
			var res struct {
				Results []json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Results) < c.hits || (c.hits == 0 && len(res.Results) != 0) {
				t.Errorf("GET %s: %s, want %d result(s)", c.path, body, c.hits)
			}
		}
	}
}
