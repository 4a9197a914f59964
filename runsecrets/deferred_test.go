package runsecrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
)

// ResolveLater reads nothing; ResolveDeferred reads the value current when
// it runs and registers it, so whatever echoes it is masked.
func TestResolveDeferredReadsAtHandOff(t *testing.T) {
	ctx := context.Background()
	const oldV, newV = "old-token-Qw3Er5Ty7", "new-token-Zx9Cv7Bn5"
	src := interpolate.MapSecrets{"tok": json.RawMessage(`"` + oldV + `"`)}
	r := newRun(t, "run-d", src)
	env, _ := interpolate.NewDocEnv([]byte(`{"workflow": {"input": {"u": "me"}}}`))
	tpl := interpolate.MustCompile([]byte(`{"auth": "Bearer ${workflow.secrets.tok}", "user": "${workflow.input.u}"}`))
	d, err := r.ResolveLater(ctx, tpl, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"auth": "Bearer ${workflow.secrets.tok}", "user": "me"}`; string(d.Doc) != want {
		t.Fatalf("stored form %s, want %s", d.Doc, want)
	}
	if got := r.Text("echo " + oldV); strings.Contains(got, "***") {
		t.Fatalf("ResolveLater registered a value: %s", got)
	}
	src["tok"] = json.RawMessage(`"` + newV + `"`) // rotated while the task waits
	out, err := r.ResolveDeferred(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"auth": "Bearer ` + newV + `", "user": "me"}`; string(out) != want {
		t.Fatalf("resolved %s, want %s", out, want)
	}
	if got := r.Text("echo " + newV); got != "echo ***" {
		t.Errorf("the value handed off is not masked: %s", got)
	}
	delete(src, "tok")
	if _, err := r.ResolveDeferred(ctx, d); !errors.Is(err, store.ErrNotFound) || strings.Contains(err.Error(), newV) {
		t.Errorf("deleted secret: %v", err)
	}
	if _, err := newRun(t, "run-e", nil).ResolveDeferred(ctx, d); !errors.Is(err, interpolate.ErrNoSecretSource) {
		t.Errorf("no source: %v", err)
	}
}
