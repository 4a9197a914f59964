package runstore

import (
	"errors"
	"testing"
)

// A damaged journal entry is errBadEntry, never a panic: what bbolt hands
// back is read as untrusted bytes. validBody (what a fold checks without
// decoding) accepts exactly the bodies parts.apply decodes.
func FuzzJournalEntry(f *testing.F) {
	ch := &Change{Head: []byte(`{"h":1}`), Input: []byte(`{}`), Output: []byte(`{"o":2}`), Variables: []byte(`{}`),
		DefinitionHash: "abc", Tasks: []Task{{Seq: 3, Doc: []byte(`{"t":3}`)}}, DeleteTasks: []int{1},
		Log: []LogEntry{{Pos: 2, Doc: []byte(`"e2"`)}}, Refs: []RefEntry{{Ref: "w", Seq: 3}, {Ref: "w__1"}}}
	f.Add(encodeEntry(entryChange, "run-1", ch, []byte(`{"id":"run-1"}`)))
	f.Add(encodeEntry(entryRestore, "run-1", ch, nil))
	f.Add(encodeEntry(entryEnd, "run-1", nil, nil))
	f.Add([]byte{entryChange, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, v []byte) {
		kind, _, body, err := entryHeader(v)
		if err != nil {
			if !errors.Is(err, errBadEntry) {
				t.Fatalf("header: %v", err)
			}
			return
		}
		var r record
		if err := r.replayEntry(kind, body); err != nil && !errors.Is(err, errBadEntry) {
			t.Fatalf("replay: %v", err)
		}
		_ = deletedTasks(body)
		var p parts
		if applied, valid := p.apply(body) == nil, validBody(body); applied != valid {
			t.Fatalf("apply accepts the body: %v, validBody: %v", applied, valid)
		}
	})
}
