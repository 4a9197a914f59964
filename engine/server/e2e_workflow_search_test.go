package server_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// Ports of conductor-oss/conductor e2e/src/test/java/io/conductor/e2e/
// workflow/WorkflowSearchTests.java (b54f0d4): workflowClient.search
// through the Go SDK against `wfrun serve`.

const e2eSearchDef = "transcribed/e2e_search_workflow_def.json"

// search is workflowClient.search(start, size, sort, freeText, query);
// start < 0 leaves the paging parameters out (search(query)).
func (c *e2eClient) search(start, size int32, sortBy, freeText, query string) model.SearchResultWorkflowSummary {
	c.t.Helper()
	opts := &client.WorkflowResourceApiSearchOpts{Query: optional.NewString(query), FreeText: optional.NewString(freeText)}
	if start >= 0 {
		opts.Start, opts.Size, opts.Sort = optional.NewInt32(start), optional.NewInt32(size), optional.NewString(sortBy)
	}
	res, _, err := c.wc.Search(c.ctx, opts)
	if err != nil {
		c.t.Fatalf("search %q: %v", query, err)
	}
	return res
}

// awaitSearch waits until query finds n runs and returns the result.
func (c *e2eClient) awaitSearch(query string, n int) model.SearchResultWorkflowSummary {
	c.t.Helper()
	var res model.SearchResultWorkflowSummary
	c.await(fmt.Sprintf("%q finds %d", query, n), func() error {
		if res = c.search(-1, 0, "", "", query); len(res.Results) != n {
			return fmt.Errorf("%d results", len(res.Results))
		}
		return nil
	})
	return res
}

// searchDef registers WorkflowSearchTests.registerWorkflowDef(name, task).
func (c *e2eClient) searchDef(name, task string) {
	c.register(e2eSearchDef, "SRCHW", name, "SRCHT", task)
}

// TestE2EBasicWorkflowSearch is testBasicWorkflowSearch: "workflowType IN
// (X)" finds nothing before X runs, then X's two runs, Y's two, and the
// four for "IN (X,Y)", which are then terminated.
func TestE2EBasicWorkflowSearch(t *testing.T) {
	c := newE2EClient(t, nil)
	if res := c.search(-1, 0, "", "", "workflowType IN (WFONE)"); len(res.Results) != 0 {
		t.Fatalf("before: %+v", res)
	}
	c.searchDef("WFONE", "TASKONE")
	c.start("WFONE")
	c.start("WFONE")
	c.awaitSearch("workflowType IN (WFONE)", 2)
	c.searchDef("WFTWO", "TASKTWO")
	c.start("WFTWO")
	c.start("WFTWO")
	c.awaitSearch("workflowType IN (WFTWO)", 2)
	all := c.awaitSearch("workflowType IN (WFONE,WFTWO)", 4)
	for _, sum := range all.Results {
		c.terminate(sum.WorkflowId, "test")
	}
}

// TestE2ESearchByWorkflowIDAndTypeQuoted is testSearchByWorkflowIdWithDoubleQuotes,
// testSearchByWorkflowIdWithSingleQuotes and testSearchByWorkflowTypeWithSingleQuotes:
// a quoted workflowId finds its run (and only it), a single-quoted
// workflowType both runs of the type.
func TestE2ESearchByWorkflowIDAndTypeQuoted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		query func(name, id string) string
		runs  int // started; the query finds the first only when it is by id
		byID  bool
	}{
		{"workflowId double quotes", func(_, id string) string { return `workflowId="` + id + `"` }, 1, true},
		{"workflowId single quotes", func(_, id string) string { return `workflowId='` + id + `'` }, 1, true},
		{"workflowType single quotes", func(name, _ string) string { return `workflowType='` + name + `'` }, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newE2EClient(t, nil)
			c.searchDef("QUOTED", "QTASK")
			c.searchDef("OTHER", "OTASK") // a run the query must not find
			c.start("OTHER")
			ids := []string{}
			for i := 0; i < tc.runs; i++ {
				ids = append(ids, c.start("QUOTED"))
			}
			res := c.awaitSearch(tc.query("QUOTED", ids[0]), tc.runs)
			if tc.byID && res.Results[0].WorkflowId != ids[0] {
				t.Fatalf("found %s, want %s", res.Results[0].WorkflowId, ids[0])
			}
			for _, sum := range res.Results {
				c.terminate(sum.WorkflowId, "test cleanup")
			}
		})
	}
}

// TestE2ESearchWithMultipleConditionsAndSingleQuotes is
// testSearchWithMultipleConditionsAndSingleQuotes: "correlationId='c' AND
// workflowType='X'" finds the run with that correlation id, not the other.
func TestE2ESearchWithMultipleConditionsAndSingleQuotes(t *testing.T) {
	c := newE2EClient(t, nil)
	c.searchDef("MULTI", "MTASK")
	id, _, err := c.wc.StartWorkflowWithRequest(c.ctx, model.StartWorkflowRequest{Name: "MULTI", Version: 1, CorrelationId: "corr-Ab12Cd34Ef", Input: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	other := c.start("MULTI")
	res := c.awaitSearch("correlationId='corr-Ab12Cd34Ef' AND workflowType='MULTI'", 1)
	if res.Results[0].WorkflowId != id {
		t.Fatalf("found %s, want %s", res.Results[0].WorkflowId, id)
	}
	c.terminate(id, "test cleanup")
	c.terminate(other, "test cleanup")
}

// TestE2ESearchWithPaginationAndSort is testSearchWithPaginationAndSort:
// of three runs, search(0, 2, "workflowId:ASC", "*", …) has totalHits 3
// and two results, search(2, 2, …) totalHits 3 and one result, and the
// pages do not overlap. Beyond the Java test, the pages are in ascending
// workflowId order, as the sort asks.
func TestE2ESearchWithPaginationAndSort(t *testing.T) {
	c := newE2EClient(t, nil)
	c.searchDef("PAGED", "PTASK")
	for i := 0; i < 3; i++ {
		c.start("PAGED")
	}
	c.awaitSearch("workflowType='PAGED'", 3)
	page1 := c.search(0, 2, "workflowId:ASC", "*", "workflowType='PAGED'")
	if page1.TotalHits != 3 || len(page1.Results) != 2 {
		t.Fatalf("page 1: %+v", page1)
	}
	page2 := c.search(2, 2, "workflowId:ASC", "*", "workflowType='PAGED'")
	if page2.TotalHits != 3 || len(page2.Results) != 1 {
		t.Fatalf("page 2: %+v", page2)
	}
	var ids []string
	for _, sum := range append(page1.Results, page2.Results...) {
		ids = append(ids, sum.WorkflowId)
	}
	if ids[2] == ids[0] || ids[2] == ids[1] {
		t.Fatalf("the pages overlap: %v", ids)
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("not in ascending workflowId order: %s", strings.Join(ids, " "))
	}
	for _, id := range ids {
		c.terminate(id, "test cleanup")
	}
}
