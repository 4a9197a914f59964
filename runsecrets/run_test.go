package runsecrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
)

func ring(t testing.TB) *seal.Keyring {
	t.Helper()
	k, err := seal.NewKeyring([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRun(t *testing.T, id string, src runsecrets.Source, opts ...runsecrets.Option) *runsecrets.Run {
	t.Helper()
	r, err := runsecrets.New(id, src, ring(t), append(opts, runsecrets.WithMaskerOptions(masking.WithLogger(nil)))...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// One "not found" sentinel: errors.Is(err, store.ErrNotFound) holds for a
// missing secret whatever the source says (interpolate.MapSecrets reports
// interpolate.ErrSecretNotFound), through Secret and through Resolve.
func TestNotFoundIsOneSentinel(t *testing.T) {
	ctx := context.Background()
	for name, src := range map[string]runsecrets.Source{
		"map":   interpolate.MapSecrets{},
		"store": store.NewRunView(memory.New(), store.LocalPrincipal, "", ""),
	} {
		t.Run(name, func(t *testing.T) {
			r := newRun(t, "r1", src)
			_, err := r.Secret(ctx, "missing")
			if !errors.Is(err, runsecrets.ErrNotFound) || !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `"missing"`) {
				t.Fatalf("Secret: %v", err)
			}
			env, _ := interpolate.NewDocEnv([]byte(`{"workflow":{}}`))
			_, _, err = r.Resolve(ctx, interpolate.MustCompile([]byte(`{"a":"${workflow.secrets.missing}"}`)), env)
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Resolve: %v", err)
			}
		})
	}
}

func TestRequiringIsCheckedAtConstruction(t *testing.T) {
	_, err := runsecrets.New("r", interpolate.MapSecrets{}, ring(t), runsecrets.Requiring(runsecrets.Needs{Write: true}))
	if !errors.Is(err, runsecrets.ErrReadOnly) {
		t.Fatalf("write over MapSecrets: %v", err)
	}
	_, err = runsecrets.New("r", nil, ring(t), runsecrets.Requiring(runsecrets.Needs{Read: true}))
	if !errors.Is(err, runsecrets.ErrNoSource) {
		t.Fatalf("read without a source: %v", err)
	}
	if _, err := runsecrets.New("r", store.NewRunView(memory.New(), store.LocalPrincipal, "", ""), ring(t),
		runsecrets.Requiring(runsecrets.Needs{Read: true, Write: true})); err != nil {
		t.Fatal(err)
	}
}

// The journal rebuilds the masker of a resumed run; it opens only for its
// own run, and an edited journal is refused.
func TestJournalRestoresTheMasker(t *testing.T) {
	ctx := context.Background()
	const value = "journal-value-Zx9Cv7Bn5"
	r := newRun(t, "run-a", interpolate.MapSecrets{"k": json.RawMessage(`"` + value + `"`)})
	if _, err := r.Secret(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	j, err := r.Journal()
	if err != nil || j == "" || strings.Contains(j, value) {
		t.Fatalf("journal %q: %v", j, err)
	}
	resumed := newRun(t, "run-a", nil)
	if err := resumed.Restore(j); err != nil {
		t.Fatal(err)
	}
	if got := resumed.Text("said " + value); got != "said ***" {
		t.Fatalf("resumed run masks %q", got)
	}
	if err := newRun(t, "run-b", nil).Restore(j); !errors.Is(err, runsecrets.ErrSealed) {
		t.Fatalf("another run's journal: %v", err)
	}
	edited := j[:len(j)-6] + "AAAAA="
	if err := newRun(t, "run-a", nil).Restore(edited); !errors.Is(err, runsecrets.ErrSealed) {
		t.Fatalf("edited journal: %v", err)
	}
}

// A child run shares its parent's masker but seals for itself.
func TestChildSharesTheMasker(t *testing.T) {
	parent := newRun(t, "parent", nil)
	child, err := runsecrets.New("child", nil, ring(t), runsecrets.ChildOf(parent))
	if err != nil {
		t.Fatal(err)
	}
	child.Register("child-value-Lk8Jh6Gf4")
	if got := parent.Text("child-value-Lk8Jh6Gf4"); got != "***" {
		t.Fatalf("parent does not mask the child's value: %q", got)
	}
	_, stored, err := child.Protect([]byte(`{"_secrets":{"x":"abcdefgh"}}`), "/input")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parent.Unseal(stored, "/input"); !errors.Is(err, runsecrets.ErrSealed) {
		t.Fatalf("the parent opened the child's seal: %v", err)
	}
}

// ForTask marks a context once: marking it again for the same task returns
// it as it is, another task or run gets its own mark.
func TestForTaskMarksOnce(t *testing.T) {
	r := newRun(t, "run-1", interpolate.MapSecrets{})
	ctx := r.ForTask(context.Background(), "a")
	if run, task := store.RunOf(ctx); run != "run-1" || task != "a" {
		t.Fatalf("marked %q %q", run, task)
	}
	if r.ForTask(ctx, "a") != ctx {
		t.Fatal("the same task marked twice")
	}
	if _, task := store.RunOf(r.ForTask(ctx, "b")); task != "b" {
		t.Fatalf("another task: %q", task)
	}
	other := newRun(t, "run-2", interpolate.MapSecrets{})
	if run, _ := store.RunOf(other.ForTask(ctx, "a")); run != "run-2" {
		t.Fatalf("another run: %q", run)
	}
}
