package server_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// TestConductorSearch: the Go SDK's workflow Search with Conductor's query
// syntax (AND, IN, correlationId, startTime), freeText, paging and a bad
// query (400 naming the field).
func TestConductorSearch(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	ctx := context.Background()
	wc := client.NewWorkflowClient(client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api")))
	ids := map[string]string{}
	for _, corr := range []string{"order-1", "order-2", "invoice-3"} {
		id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "one_simple", Version: 1, CorrelationId: corr, Input: map[string]any{"k": corr}})
		if err != nil {
			t.Fatal(err)
		}
		ids[corr] = id
	}
	if st, _, body := ts.do(t, "DELETE", "/api/workflow/"+ids["order-2"]+"?reason=test", ""); st != 200 {
		t.Fatalf("terminate: %d %s", st, body)
	}
	ts.waitRun(t, ids["order-2"], "TERMINATED", func(d runDoc) bool { return d.Status == "TERMINATED" })
	search := func(query, free string) []string {
		t.Helper()
		res, _, err := wc.Search(ctx, &client.WorkflowResourceApiSearchOpts{Query: optional.NewString(query), FreeText: optional.NewString(free)})
		if err != nil {
			t.Fatalf("search %q: %v", query, err)
		}
		var got []string
		for _, r := range res.Results {
			got = append(got, r.CorrelationId)
		}
		if int(res.TotalHits) != len(got) {
			t.Errorf("search %q: totalHits %d for %d results", query, res.TotalHits, len(got))
		}
		sort.Strings(got)
		return got
	}
	for _, tc := range []struct{ query, free, want string }{
		{"workflowType = one_simple AND status IN (RUNNING, PAUSED)", "*", "invoice-3,order-1"},
		{"status = TERMINATED", "", "order-2"},
		{"correlationId STARTS_WITH 'order-' AND status != TERMINATED", "*", "order-1"},
		{"correlationId = 'invoice-3' OR correlationId = \"order-2\"", "*", "invoice-3,order-2"},
		{"startTime > 0 AND workflowType = one_simple", "*", "invoice-3,order-1,order-2"},
		{"startTime > 2999-01-01", "*", ""},
		{"", "order", "order-1,order-2"},
		{"", ids["invoice-3"], "invoice-3"},
	} {
		if got := strings.Join(search(tc.query, tc.free), ","); got != tc.want {
			t.Errorf("search %q freeText %q: %q, want %q", tc.query, tc.free, got, tc.want)
		}
	}
	page := func(start, size int32) model.SearchResultWorkflowSummary {
		t.Helper()
		res, _, err := wc.Search(ctx, &client.WorkflowResourceApiSearchOpts{Query: optional.NewString("workflowType = one_simple"),
			Start: optional.NewInt32(start), Size: optional.NewInt32(size), Sort: optional.NewString("startTime:ASC")})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	all := page(0, 10)
	for i := 1; i < len(all.Results); i++ {
		if all.Results[i-1].StartTime > all.Results[i].StartTime && len(all.Results[i-1].StartTime) == len(all.Results[i].StartTime) {
			t.Errorf("not oldest first: %+v", all.Results)
		}
	}
	if one := page(1, 1); len(all.Results) != 3 || one.TotalHits != 3 || len(one.Results) != 1 || one.Results[0].WorkflowId != all.Results[1].WorkflowId {
		t.Errorf("second page of one: %+v of %+v", one, all)
	}
	if st, _, body := ts.do(t, "GET", "/api/workflow/search?query=owner+%3D+me", ""); st != 400 || !strings.Contains(body, `unknown field \"owner\"`) {
		t.Errorf("bad query: %d %s", st, body)
	}
}
