package server

import "testing"

// TestPendingTaskRefs: a reference's waiting record is its own or one of
// its loop iterations' (ref__N, ref__N__M), never another task's whose
// reference starts with ref__.
func TestPendingTaskRefs(t *testing.T) {
	run := func(refs ...string) map[string]any {
		var list []any
		for _, r := range refs {
			list = append(list, map[string]any{"referenceTaskName": r, "taskId": "id-" + r, "status": "IN_PROGRESS"})
		}
		return map[string]any{"tasks": list}
	}
	for _, tc := range []struct {
		ref  string
		refs []string
		want string // the taskId found, "" none
	}{
		{"a", []string{"a"}, "id-a"},
		{"a", []string{"a__1"}, "id-a__1"},
		{"a", []string{"a__1", "a__2"}, "id-a__2"},
		{"a", []string{"a__1__3"}, "id-a__1__3"},
		{"a", []string{"a__b"}, ""},
		{"a", []string{"a__"}, ""},
		{"a", []string{"a__1x"}, ""},
		{"a", []string{"a__1__"}, ""},
		{"a", []string{"ab"}, ""},
		{"a", []string{"a", "a__b"}, "id-a"},
		{"a__b", []string{"a__b"}, "id-a__b"},
		{"a__b", []string{"a__b__4"}, "id-a__b__4"},
	} {
		got := pendingTask(run(tc.refs...), tc.ref)
		id := ""
		if got != nil {
			id, _ = got["taskId"].(string)
		}
		if id != tc.want {
			t.Errorf("pendingTask(%v, %q) = %q, want %q", tc.refs, tc.ref, id, tc.want)
		}
	}
}
