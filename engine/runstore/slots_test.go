package runstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestAnswerSlots runs the answer slot cases on every backend.
func TestAnswerSlots(t *testing.T) {
	suite := []struct {
		name string
		fn   func(t *testing.T, s runstore.Store)
	}{
		{"Meet", testSlotsMeet},
		{"GoWithArchive", testSlotsGoWithArchive},
		{"GoWithDelete", testSlotsGoWithDelete},
		{"RenewLease", testRenewLease},
	}
	// Redis: every key a script touches is one it was given.
	defer runstore.GuardRedisScripts()()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range suite {
				t.Run(c.name, func(t *testing.T) { c.fn(t, b.open(t)) })
			}
		})
	}
}

// keysOf lists the store's signal and slot keys that belong to run id:
// its signals, its slots (id "/" key) and, in Redis, its set of slots.
func keysOf(t *testing.T, s runstore.Store, id string) []string {
	t.Helper()
	all, err := runstore.SignalKeys(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range all {
		if k == "slots:"+id {
			out = append(out, k)
			continue
		}
		k = strings.TrimPrefix(k, "signals:")
		if k == id || strings.HasPrefix(k, id+"/") {
			out = append(out, k)
		}
	}
	return out
}

// testSlotsMeet: a caller that leaves (its mark) and the runner that
// answers meet in the slot whichever comes first: the second finds the
// first's member, writes nothing and empties the slot.
func testSlotsMeet(t *testing.T, s runstore.Store) {
	if err := s.Commit(ctx, "m1", first("m1")); err != nil {
		t.Fatal(err)
	}
	// The runner first, then the caller leaving.
	if put, err := s.PutSlot(ctx, "m1", "k1", "outcome", []byte(`"stored"`), "gone"); !put || err != nil {
		t.Fatalf("answer = %v %v", put, err)
	}
	if put, err := s.PutSlot(ctx, "m1", "k1", "gone", []byte(`{}`), "outcome"); put || err != nil {
		t.Fatalf("leave after the answer = %v %v, want not put", put, err)
	}
	// The caller leaving first, then the runner.
	if put, err := s.PutSlot(ctx, "m1", "k2", "gone", []byte(`{}`), "outcome"); !put || err != nil {
		t.Fatalf("leave = %v %v", put, err)
	}
	if put, err := s.PutSlot(ctx, "m1", "k2", "outcome", []byte(`"stored"`), "gone"); put || err != nil {
		t.Fatalf("answer after the leave = %v %v, want not put", put, err)
	}
	if keys := keysOf(t, s, "m1"); len(keys) != 0 {
		t.Fatalf("slots left after both met: %v", keys)
	}
	// An answer the caller takes.
	if put, err := s.PutSlot(ctx, "m1", "k3", "outcome", []byte(`"stored"`), "gone"); !put || err != nil {
		t.Fatalf("answer = %v %v", put, err)
	}
	got, err := s.TakeSlot(ctx, "m1", "k3")
	if err != nil || string(got["outcome"]) != `"stored"` || len(got) != 1 {
		t.Fatalf("TakeSlot = %q %v", got, err)
	}
	if got, err := s.TakeSlot(ctx, "m1", "k3"); len(got) != 0 || err != nil {
		t.Fatalf("TakeSlot again = %q %v", got, err)
	}
	if keys := keysOf(t, s, "m1"); len(keys) != 0 {
		t.Fatalf("slots left after the answer was taken: %v", keys)
	}
	// The slots are not the run's signals, nor its signals the slots.
	if err := s.PutSignal(ctx, "m1", "k4", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TakeSlot(ctx, "m1", "k4"); len(got) != 0 {
		t.Fatalf("TakeSlot took a signal: %q", got)
	}
	if _, err := s.PutSlot(ctx, "m1", "k5", "outcome", []byte(`1`), "gone"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TakeSignals(ctx, "m1"); len(got) != 1 || got["k4"] == nil {
		t.Fatalf("TakeSignals = %q, want the signal alone", got)
	}
}

// testSlotsGoWithArchive: Archive removes the run's slots with it (and
// nothing of a neighbour's) but those holding an answer, which stay
// readable until taken or met, or the run deleted; none is written
// afterwards, nor a signal.
func testSlotsGoWithArchive(t *testing.T, s runstore.Store) {
	for _, id := range []string{"a1", "a10", "a1-x"} {
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"update-1", "__wfrun_pause"} {
			if put, err := s.PutSlot(ctx, id, k, "outcome", []byte(`"stored"`), "gone"); !put || err != nil {
				t.Fatalf("PutSlot(%s, %s) = %v %v", id, k, put, err)
			}
		}
		if err := s.PutSignal(ctx, id, "sig", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if put, err := s.PutSlot(ctx, "a1", "VARIABLES:1", "gone", []byte(`{}`), "outcome"); !put || err != nil {
		t.Fatalf("PutSlot(gone) = %v %v", put, err)
	}
	if err := s.Archive(ctx, "a1", []byte(`{"end":1}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	// The answers stay (in Redis, with the set naming them); the
	// caller's mark and the run's signals go.
	wantKept := "a1/__wfrun_pause a1/update-1"
	if _, isRedis := s.(*runstore.Redis); isRedis {
		wantKept = "a1/__wfrun_pause a1/update-1 slots:a1"
	}
	if keys := strings.Join(keysOf(t, s, "a1"), " "); keys != wantKept {
		t.Fatalf("after Archive the store holds %q, want the answers %q", keys, wantKept)
	}
	for _, id := range []string{"a10", "a1-x"} {
		keys := " " + strings.Join(keysOf(t, s, id), " ") + " "
		for _, k := range []string{id, id + "/update-1", id + "/__wfrun_pause"} {
			if !strings.Contains(keys, " "+k+" ") {
				t.Fatalf("a neighbour's signals and slots after Archive: %v, want %s", keys, k)
			}
		}
	}
	// Late writers: an answer, a caller's mark, a signal.
	if put, err := s.PutSlot(ctx, "a1", "update-2", "outcome", []byte(`"stored"`), "gone"); put || err != nil {
		t.Fatalf("PutSlot after Archive = %v %v, want not put", put, err)
	}
	if put, err := s.PutSlot(ctx, "a1", "update-3", "gone", []byte(`{}`), "outcome"); put || err != nil {
		t.Fatalf("PutSlot(gone) after Archive = %v %v, want not put", put, err)
	}
	if err := s.PutSignal(ctx, "a1", "late", []byte(`{}`)); err != nil {
		t.Fatalf("PutSignal after Archive = %v", err)
	}
	if keys := strings.Join(keysOf(t, s, "a1"), " "); keys != wantKept {
		t.Fatalf("after late writes the store holds %q, want %q", keys, wantKept)
	}
	// The callers: one takes its answer, one leaves (and meets it).
	if got, err := s.TakeSlot(ctx, "a1", "update-1"); err != nil || string(got["outcome"]) != `"stored"` {
		t.Fatalf("TakeSlot after Archive = %q %v, want the answer", got, err)
	}
	if put, err := s.PutSlot(ctx, "a1", "__wfrun_pause", "gone", []byte(`{}`), "outcome"); put || err != nil {
		t.Fatalf("leave after Archive = %v %v, want not put", put, err)
	}
	if keys := keysOf(t, s, "a1"); len(keys) != 0 {
		t.Fatalf("after the answers were taken and met the store holds %v", keys)
	}
	// Restored, the run takes slots again, and its next archive removes
	// them but an answer; Delete removes that one.
	if err := s.Restore(ctx, "a1", first("a1")); err != nil {
		t.Fatal(err)
	}
	if put, err := s.PutSlot(ctx, "a1", "update-4", "outcome", []byte(`"stored"`), "gone"); !put || err != nil {
		t.Fatalf("PutSlot after Restore = %v %v", put, err)
	}
	if put, err := s.PutSlot(ctx, "a1", "update-5", "gone", []byte(`{}`), "outcome"); !put || err != nil {
		t.Fatalf("PutSlot(gone) after Restore = %v %v", put, err)
	}
	if err := s.Archive(ctx, "a1", []byte(`{"end":2}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(keysOf(t, s, "a1"), " "); !strings.HasPrefix(keys, "a1/update-4") || strings.Contains(keys, "update-5") {
		t.Fatalf("after the second Archive the store holds %q, want the answer alone", keys)
	}
	if err := s.Delete(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if keys := keysOf(t, s, "a1"); len(keys) != 0 {
		t.Fatalf("after Delete the store holds %v", keys)
	}
}

// testSlotsGoWithDelete: Delete removes what an ended run still holds in
// slots: written before slots were refused for archived runs (PutSignal
// of a slot's id; a Redis store names its slots in a set, and such a slot
// is not in it).
func testSlotsGoWithDelete(t *testing.T, s runstore.Store) {
	for _, id := range []string{"d1", "d10"} {
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
		if err := s.Archive(ctx, id, []byte(`{"end":1}`), sum("COMPLETED", 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSignal(ctx, runstore.SlotID(id, "update-1"), "outcome", []byte(`"stored"`)); err != nil {
			t.Fatal(err)
		}
	}
	_, isRedis := s.(*runstore.Redis)
	if err := s.Delete(ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	if keys := keysOf(t, s, "d1"); len(keys) != 0 && !isRedis {
		t.Fatalf("after Delete the store holds %v", keys)
	}
	if keys := keysOf(t, s, "d10"); len(keys) != 1 || keys[0] != "d10/update-1" {
		t.Fatalf("a neighbour's slot after Delete: %v", keys)
	}
}

// testRenewLease: RenewLease renews the holder's lease, takes a run
// without one, refuses another live holder's, and writes none for an
// archived run.
func testRenewLease(t *testing.T, s runstore.Store) {
	a, b := runstore.NewLease("owner-a"), runstore.NewLease("owner-b")
	b.Host = "elsewhere" // judged by its expiry alone
	if err := s.Commit(ctx, "l1", first("l1")); err != nil {
		t.Fatal(err)
	}
	if err := s.RenewLease(ctx, "l1", a, time.Minute); err != nil {
		t.Fatalf("RenewLease(none) = %v", err)
	}
	if err := s.RenewLease(ctx, "l1", a, time.Minute); err != nil {
		t.Fatalf("RenewLease(held) = %v", err)
	}
	if err := s.RenewLease(ctx, "l1", b, time.Minute); !errors.Is(err, runstore.ErrLeased) {
		t.Fatalf("RenewLease(another's) = %v, want ErrLeased", err)
	}
	if l, ok, err := s.GetLease(ctx, "l1"); err != nil || !ok || l.Owner != "owner-a" {
		t.Fatalf("GetLease = %+v %v %v", l, ok, err)
	}
	if err := s.Archive(ctx, "l1", []byte(`{"end":1}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.RenewLease(ctx, "l1", a, time.Minute); !errors.Is(err, runstore.ErrArchived) || !strings.Contains(err.Error(), "l1") {
		t.Fatalf("RenewLease after Archive = %v, want ErrArchived naming the run", err)
	}
	if l, ok, err := s.GetLease(ctx, "l1"); ok || err != nil {
		t.Fatalf("after RenewLease of an archived run GetLease = %+v %v %v", l, ok, err)
	}
}
