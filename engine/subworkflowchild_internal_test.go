package engine

import "testing"

// TestSubWorkflowRunIDIsConductors: the child ids are Java's
// UUID.nameUUIDFromBytes of "subworkflow:<parent>:<task>:<retryCount>"
// (values computed apart from this code, with Python's hashlib and uuid),
// stable for an attempt and different for the next one, as
// IDGeneratorTest asserts.
func TestSubWorkflowRunIDIsConductors(t *testing.T) {
	for _, tc := range []struct {
		parent, task string
		retry        int
		want         string
	}{
		{"parent", "task", 0, "bb3fd610-5c55-3b27-97eb-cc1d3e9d13a9"},
		{"4f6a1c2e-0000-4000-8000-000000000001", "9b1d6c3a-0000-4000-8000-000000000002", 3, "9f3fa3f5-dd3a-3074-8aae-1e0e7c2fc50e"},
	} {
		if got := subWorkflowRunID(tc.parent, tc.task, tc.retry); got != tc.want {
			t.Errorf("subWorkflowRunID(%q, %q, %d) = %s, want %s", tc.parent, tc.task, tc.retry, got, tc.want)
		}
	}
	if subWorkflowRunID("parent", "task", 0) == subWorkflowRunID("parent", "task", 1) {
		t.Error("a retried attempt gets its predecessor's child id")
	}
}
