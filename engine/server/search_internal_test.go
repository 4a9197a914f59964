package server

import (
	"errors"
	"strconv"
	"testing"
)

// TestParseSearch: Conductor's query syntax over a run's fields, and a
// clear error for what it cannot read.
func TestParseSearch(t *testing.T) {
	run := map[string]string{"workflowId": "w-1", "workflowType": "order", "version": "2", "status": "FAILED",
		"correlationId": "c-7", "startTime": "1767225600000", "updateTime": "1767225660000"} // 2026-01-01T00:00:00Z
	get := func(f string) string { return run[f] }
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"status = FAILED", true},
		{"status='FAILED' AND workflowType=\"order\"", true},
		{"status = FAILED AND workflowType = other", false},
		{"status IN (RUNNING, COMPLETED) OR correlationId = 'c-7'", true},
		{"status IN (RUNNING,FAILED) AND version > 1", true},
		{"version > 10", false}, // numbers compare as numbers, not text
		{"version < 10", true},
		{"startTime > 1767225599999", true},
		{"startTime > 2026-01-01T00:00:01Z", false},
		{"startTime BETWEEN 2025-12-31 AND 2026-01-02", true},
		{"status != FAILED", false},
		{"parentWorkflowId IS null AND correlationId IS not null", true},
		{"workflowId STARTS_WITH 'w-'", true},
		{"(status = RUNNING OR status = FAILED) and workflowType = order", true},
		// Conductor groups right to left: a AND (b OR c).
		{"workflowType = other AND status = RUNNING OR status = FAILED", false},
		{"*", true},
		{"", true},
	} {
		e, err := parseSearch(tc.query, nil)
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if got := e == nil || e.match(get); got != tc.want {
			t.Errorf("%q matched %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, bad := range []string{"status", "status = ", "nope = 1", "status IN RUNNING", "status = 'open", "(status = X", "status = X AND", "startTime > yesterday", "status ~ X", "status = X )"} {
		if _, err := parseSearch(bad, nil); !errors.Is(err, errBadQuery) {
			t.Errorf("%q: %v, want errBadQuery", bad, err)
		}
	}
}

// FuzzSearchQuery: any query parses or is refused with errBadQuery; what
// parses evaluates without panicking.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{"status = RUNNING", "a", "(status IN (A,B) OR version > 1) AND startTime BETWEEN 1 AND 2", "x IS not null", "'", "((("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		e, err := parseSearch(q, nil)
		if err != nil {
			if !errors.Is(err, errBadQuery) {
				t.Fatalf("%q: %v", q, err)
			}
			return
		}
		if e != nil {
			e.match(func(f string) string { return strconv.Itoa(len(f)) })
		}
	})
}

func TestParseSearchDepth(t *testing.T) {
	deep := ""
	for range 1000 {
		deep += "("
	}
	if _, err := parseSearch(deep+"status = X", nil); !errors.Is(err, errBadQuery) {
		t.Fatalf("deep nesting: %v", err)
	}
}
