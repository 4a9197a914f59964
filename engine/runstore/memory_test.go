package runstore_test

import (
	"bytes"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestMemoryHandOver checks what the memory store copies: every part of a
// plain change (the caller may reuse its buffers), and the parts other than
// Head and the task documents of a change marked HandOver.
func TestMemoryHandOver(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handOver bool
	}{
		{"copied", false},
		{"handed over", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := runstore.NewMemory()
			ch := first("r1")
			ch.HandOver = tc.handOver
			ch.Output = []byte(`{"o":1}`)
			ch.Tasks = []runstore.Task{{Seq: 1, Doc: []byte(`{"seq":1,"status":"COMPLETED"}`)}}
			if err := s.Commit(ctx, "r1", ch); err != nil {
				t.Fatal(err)
			}
			want, _ := load(t, s, "r1")
			// Input, Output, Variables and Definition are always copied:
			// overwriting the caller's buffers changes nothing stored.
			for _, b := range [][]byte{ch.Input, ch.Output, ch.Variables, ch.Definition} {
				copy(b, bytes.Repeat([]byte("x"), len(b)))
			}
			if got, _ := load(t, s, "r1"); got != want {
				t.Fatalf("after the input buffers changed: %s, want %s", got, want)
			}
			copy(ch.Head, `{"workflowId":"r9"`)
			got, _ := load(t, s, "r1")
			if kept := got != want; kept != tc.handOver {
				t.Fatalf("HandOver %v: head kept as given = %v (%s)", tc.handOver, kept, got)
			}
		})
	}
}
