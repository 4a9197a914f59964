package engine

import (
	"reflect"
	"testing"
)

// TestUpdateSignalKeys: the key of an update names its task's reference
// (a key stored by an older wfrun, without the engine's id, too), keys
// two engines give on one nanosecond differ, and updates sort after the
// other signals, by sequence, then engine id.
func TestUpdateSignalKeys(t *testing.T) {
	a, _ := New()
	b, _ := New()
	a.owner, b.owner = "a-engine", "b-engine"
	a.updateSeq.Store(1 << 62)
	b.updateSeq.Store(1 << 62)
	ka, kb := a.updateSignalKey("sub x"), b.updateSignalKey("sub x")
	if ka == kb {
		t.Fatalf("two engines gave one key %q", ka)
	}
	old := updateSignalPrefix + "04611686018427387905 sub x" // the same sequence
	for _, k := range []string{ka, kb, old} {
		if ref, ok := updateRef(k); !ok || ref != "sub x" {
			t.Errorf("updateRef(%q) = %q %v, want sub x", k, ref, ok)
		}
	}
	for _, k := range []string{"sub", updateSignalPrefix + "1 sub", updateSignalPrefix + "04611686018427387905.x", updateSignalPrefix + "04611686018427387905. sub"} {
		if ref, ok := updateRef(k); ok {
			t.Errorf("updateRef(%q) = %q, want no update's key", k, ref)
		}
	}
	keys := []string{kb, "sub", ka, old}
	signalOrder(keys)
	if want := []string{"sub", old, ka, kb}; !reflect.DeepEqual(keys, want) {
		t.Errorf("order %q, want %q", keys, want)
	}
}
