package engine

import (
	"bytes"
	"testing"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// A write attests the run's parts together (PartsSeal) but hashes again
// only the parts that changed since the last write: a run of many
// SET_VARIABLE tasks and a large input hashes its variables at each write,
// not its input. Checked through what the seal attests: after a write that
// changed the variables alone, it attests the input's digest as last
// sealed, not the input's bytes of the moment (which, changed without the
// run marking it, no write would store).
func TestSealPartsHashesOnlyWhatChanged(t *testing.T) {
	ring, err := seal.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := runsecrets.New("run-parts", nil, ring)
	if err != nil {
		t.Fatal(err)
	}
	r := &runState{id: "run-parts", sec: sec}
	r.doc.Status = StatusRunning
	r.inStored, r.varStored = []byte(`{"dest":"https://ledger.example/in"}`), []byte(`{"n":0}`)
	verifies := func(in, vars, out string) bool {
		return sec.Verify(r.doc.PartsSeal, partsPointer, storedParts([]byte(in), []byte(vars), r.doc.Status, r.doc.ReasonForIncompletion, []byte(out))) == nil
	}
	if err := r.sealPartsLocked(false); err != nil {
		t.Fatal(err)
	}
	if !r.doc.PartsSealed || !verifies(`{"dest":"https://ledger.example/in"}`, `{"n":0}`, `{}`) {
		t.Fatal("the first seal does not attest the run's parts")
	}
	r.stored, r.changedIn, r.changedVars, r.changedOut = true, false, false, false
	first := r.doc.PartsSeal

	// Nothing changed: no seal is made.
	if err := r.sealPartsLocked(false); err != nil || r.doc.PartsSeal != first {
		t.Fatalf("a write that changed nothing sealed again: %v", err)
	}

	// The variables changed (and, unmarked, the input's bytes): the
	// variables are hashed again, the input is not.
	r.varStored = []byte(`{"n":1}`)
	r.inStored = []byte(`{"dest":"https://collector.example/in"}`)
	r.changedVars = true
	if err := r.sealPartsLocked(false); err != nil || r.doc.PartsSeal == first {
		t.Fatalf("changed variables not sealed again: %v", err)
	}
	if !verifies(`{"dest":"https://ledger.example/in"}`, `{"n":1}`, `{}`) {
		t.Fatal("the seal does not attest the new variables with the input as sealed before")
	}
	if verifies(`{"dest":"https://collector.example/in"}`, `{"n":1}`, `{}`) {
		t.Fatal("the input was hashed again though it was not marked changed")
	}

	// The status changed: the outcome is hashed again.
	r.changedVars, r.doc.Status = false, StatusCompleted
	r.outStored = []byte(`{"ok":true}`)
	if err := r.sealPartsLocked(false); err != nil || !verifies(`{"dest":"https://ledger.example/in"}`, `{"n":1}`, `{"ok":true}`) {
		t.Fatalf("a new status not sealed with the output: %v", err)
	}
}
