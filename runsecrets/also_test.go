package runsecrets_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

// AlsoRegisterWith: every way a value enters a run — a resolved template
// reference, a `_secrets` leaf of an output (Protect) and of a stored one
// read back (Unseal), both sides of an UPDATE_SECRET (Get, Put), a
// journal restored on resume, a child run's registration — reaches the
// embedder's masker too; a value under 4 bytes does not (nor does it
// warn there: the embedder's masker has no logger); and a value several
// runs register is kept once.
func TestAlsoRegisterWithSeesEveryDoor(t *testing.T) {
	ctx := context.Background()
	proc := masking.New(masking.WithLogger(nil))
	also := runsecrets.AlsoRegisterWith(proc)
	masked := func(t *testing.T, what, value string) {
		t.Helper()
		if got := proc.MaskString("<" + value + ">"); got != "<***>" {
			t.Errorf("%s: the process masker does not mask it: %q", what, got)
		}
	}

	// Resolution.
	const resolved = "resolved-Qw3Er5Ty7Ui9"
	r := newRun(t, "run-1", interpolate.MapSecrets{"k": json.RawMessage(`"` + resolved + `"`)}, also)
	env, err := interpolate.NewDocEnv([]byte(`{"workflow":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Resolve(ctx, interpolate.MustCompile([]byte(`{"a":"${workflow.secrets.k}"}`)), env); err != nil {
		t.Fatal(err)
	}
	masked(t, "a resolved value", resolved)

	// A `_secrets` leaf of an output, and one read back from storage.
	const leaf = "leaf-As2Df4Gh6Jk8"
	_, stored, err := r.Protect([]byte(`{"_secrets":{"x":"`+leaf+`"}}`), "/tasks/0/output")
	if err != nil {
		t.Fatal(err)
	}
	masked(t, "a _secrets leaf", leaf)
	proc2 := masking.New(masking.WithLogger(nil))
	back := newRun(t, "run-1", nil, runsecrets.AlsoRegisterWith(proc2))
	if _, err := back.Unseal(stored, "/tasks/0/output"); err != nil {
		t.Fatal(err)
	}
	if got := proc2.MaskString(leaf); got != "***" {
		t.Errorf("a _secrets leaf read back: %q", got)
	}

	// UPDATE_SECRET: the value it replaces (Get) and the new one (Put).
	const old, rotated = "old-Zx1Cv3Bn5Mm7", "new-Lk2Jh4Gf6Ds8"
	view := store.NewRunView(memory.New(), store.LocalPrincipal, "", "")
	if _, err := newRun(t, "writer", view).Put(ctx, "tok", json.RawMessage(`"`+old+`"`), 0); err != nil {
		t.Fatal(err)
	}
	if proc.MaskString(old) != old {
		t.Fatal("a run without the option reached the process masker")
	}
	u := newRun(t, "run-2", view, also)
	cur, err := u.Get(ctx, "tok")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Put(ctx, "tok", json.RawMessage(`"`+rotated+`"`), cur.Version); err != nil {
		t.Fatal(err)
	}
	masked(t, "UPDATE_SECRET's replaced value", old)
	masked(t, "UPDATE_SECRET's new value", rotated)

	// A journal restored on resume.
	const journaled = "journal-Po9Iu7Yt5Re3"
	first := newRun(t, "run-3", nil)
	first.Register(journaled)
	j, err := first.Journal()
	if err != nil {
		t.Fatal(err)
	}
	if err := newRun(t, "run-3", nil, also).Restore(j); err != nil {
		t.Fatal(err)
	}
	masked(t, "a value restored from the journal", journaled)

	// A child run (ChildOf shares the parent's registry and its maskers),
	// and a child naming a masker of its own gets the values so far.
	const childValue = "child-Mn8Bv6Cx4Za2"
	child, err := runsecrets.New("run-1-child", nil, ring(t), runsecrets.ChildOf(r))
	if err != nil {
		t.Fatal(err)
	}
	child.Register(childValue)
	masked(t, "a child run's value", childValue)
	own := masking.New(masking.WithLogger(nil))
	if _, err := runsecrets.New("run-1-child2", nil, ring(t), runsecrets.ChildOf(r), runsecrets.AlsoRegisterWith(own)); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{resolved, leaf, childValue} {
		if got := own.MaskString(v); got != "***" {
			t.Errorf("a child's own masker lacks a value its parent registered before: %q", got)
		}
	}

	// A short value is not registered anywhere.
	n := proc.Len()
	if r.Register("abc") {
		t.Fatal("a 3-byte value was registered with the run")
	}
	if proc.Len() != n || proc.MaskString("abc") != "abc" {
		t.Fatal("a 3-byte value reached the process masker")
	}

	// The same value registered by another run, and again: kept once.
	for i := range 50 {
		again := newRun(t, "run-again", interpolate.MapSecrets{"k": json.RawMessage(`"` + resolved + `"`)}, also)
		if _, err := again.Secret(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		again.RegisterValues(resolved, leaf)
		if proc.Len() != n {
			t.Fatalf("run %d: the process masker grew from %d to %d patterns for values it had", i, n, proc.Len())
		}
	}
}

// "***", what a masked value became (a `_secrets` leaf of a message that
// left a run masked, fed back as another run's input), is no value: it is
// not registered and the masker does not warn about it; a value that is
// too short still warns.
func TestRedactedMarkerIsNotRegistered(t *testing.T) {
	var logs strings.Builder
	r, err := runsecrets.New("run-r", nil, ring(t), runsecrets.WithMaskerOptions(masking.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Protect([]byte(`{"_secrets":{"m":"***","o":"***"}}`), "/input"); err != nil {
		t.Fatal(err)
	}
	if r.Registered() != 0 || logs.Len() != 0 {
		t.Fatalf("registered %d values, logged %q", r.Registered(), logs.String())
	}
	r.Register("abc")
	if !strings.Contains(logs.String(), "too short") {
		t.Fatalf("no warning for a 3-byte value: %q", logs.String())
	}
}
