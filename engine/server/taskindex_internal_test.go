package server

import (
	"strconv"
	"testing"
)

// TestTaskIndexBounded: the index keeps at most two generations of
// taskIndexSize ids; the newest are always there, the oldest go.
func TestTaskIndexBounded(t *testing.T) {
	var x taskIndex
	const n = 3 * taskIndexSize
	for i := range n {
		x.put("t"+strconv.Itoa(i), "r"+strconv.Itoa(i%7))
	}
	if got := len(x.cur) + len(x.old); got > 2*taskIndexSize {
		t.Fatalf("%d ids kept, want at most %d", got, 2*taskIndexSize)
	}
	for _, i := range []int{n - 1, n - taskIndexSize} {
		if got, want := x.runOf("t"+strconv.Itoa(i)), "r"+strconv.Itoa(i%7); got != want {
			t.Errorf("recent task %d: run %q, want %q", i, got, want)
		}
	}
	if got := x.runOf("t0"); got != "" {
		t.Errorf("oldest task still known: %q", got)
	}
	x.put("", "r")
	x.put("t", "")
	if x.runOf("") != "" || x.runOf("t") != "" {
		t.Error("an empty id was kept")
	}
}
