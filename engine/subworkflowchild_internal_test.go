package engine

import (
	"encoding/json"
	"testing"
)

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

// TestSubWorkflowChildIDOutput: the one place a SUB_WORKFLOW task's
// output member subWorkflowId is set (attaching a child, ending with it),
// replaced (an update) or dropped (a rerun); an output that is not an
// object stays as it is, and a null one is an empty object (no panic).
func TestSubWorkflowChildIDOutput(t *testing.T) {
	for _, tc := range []struct {
		out, id string
		edit    childIDEdit
		want    string
		changed bool
	}{
		{"", "c1", childIDPut, `{"subWorkflowId":"c1"}`, true},
		{"null", "c1", childIDPut, `{"subWorkflowId":"c1"}`, true},
		{`{"a":1,"subWorkflowId":"old"}`, "c1", childIDPut, `{"a":1,"subWorkflowId":"c1"}`, true},
		{`{"a":1}`, "", childIDPut, `{"a":1,"subWorkflowId":null}`, true},
		{`{"a":1}`, "c1", childIDReplace, `{"a":1}`, false},
		{`{"a":1,"subWorkflowId":"old"}`, "", childIDReplace, `{"a":1,"subWorkflowId":null}`, true},
		{`{"a":1,"subWorkflowId":"old"}`, "c2", childIDReplace, `{"a":1,"subWorkflowId":"c2"}`, true},
		{`{"a":1,"subWorkflowId":"old"}`, "", childIDDrop, `{"a":1}`, true},
		{`{"a":1}`, "", childIDDrop, `{"a":1}`, false},
		{"null", "", childIDDrop, "null", false},
		{`[1]`, "c1", childIDPut, `[1]`, false},
		{`"text"`, "c1", childIDReplace, `"text"`, false},
	} {
		got, changed := childIDOutput(json.RawMessage(tc.out), tc.id, tc.edit)
		if string(got) != tc.want || changed != tc.changed {
			t.Errorf("childIDOutput(%s, %q, %d) = %s, %v; want %s, %v", tc.out, tc.id, tc.edit, got, changed, tc.want, tc.changed)
		}
	}
}
