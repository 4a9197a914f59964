package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// loadCounter counts the run documents read from the store.
type loadCounter struct {
	runstore.Store
	loads atomic.Int64
}

func (c *loadCounter) Load(ctx context.Context, id string) ([]byte, bool, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, id)
}

// A search by correlation id or free text answers from the run summaries:
// it reads no run document, however many runs the store holds.
func TestSearchReadsNoRunDocument(t *testing.T) {
	runs := &loadCounter{Store: runstore.NewMemory()}
	ts := newConductorServer(t, runs)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	for _, corr := range []string{"order-1", "order-2", "invoice-3"} {
		if st, _, body := ts.do(t, "POST", "/api/workflow", `{"name":"one_simple","version":1,"correlationId":"`+corr+`","input":{}}`); st != 200 {
			t.Fatalf("start: %d %s", st, body)
		}
	}
	for _, q := range []string{"query=" + url.QueryEscape("correlationId = 'order-2'"), "freeText=invoice"} {
		before := runs.loads.Load()
		st, _, body := ts.do(t, "GET", "/api/workflow/search?"+q, "")
		if st != 200 {
			t.Fatalf("search %s: %d %s", q, st, body)
		}
		var res struct {
			TotalHits int `json:"totalHits"`
			Results   []struct {
				CorrelationID string `json:"correlationId"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil || res.TotalHits != 1 || len(res.Results) != 1 ||
			!strings.Contains(q, strings.SplitN(res.Results[0].CorrelationID, "-", 2)[0]) {
			t.Fatalf("search %s: %s (%v)", q, body, err)
		}
		if n := runs.loads.Load() - before; n != 0 {
			t.Errorf("search %s read %d run documents", q, n)
		}
	}
}
