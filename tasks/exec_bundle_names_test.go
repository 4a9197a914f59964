//go:build unix

package tasks_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// A bundle's variable values and file contents are secret; its variable
// names and file paths are not (wfrun secret get lists them): read through
// the run's boundary, as the engine reads it, the command's output shows
// names and paths and masks the values.
func TestExecBundleNamesAndPathsNotMasked(t *testing.T) {
	e := exEnv(t)
	ring, err := seal.NewKeyring([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := runsecrets.New("wf", store.NewRunView(e.raw, store.LocalPrincipal, "", ""), ring,
		runsecrets.WithMaskerOptions(masking.WithLogger(nil)))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{
		"command": []string{"sh", "-c", `echo "BUNDLE_TOKEN conf/creds.pem $BUNDLE_TOKEN end"; echo "line $(sed -n 2p conf/creds.pem) end"`},
		"bundles": []string{"ci/deploy-bundle"},
	})
	req := &tasks.Request{WorkflowID: "wf", TaskID: "t", RefName: "exec_ref", TaskType: tasks.TypeExec, Input: in,
		Services: &tasks.Services{Masker: sec, Secrets: sec}}
	r := tasks.NewExec().Execute(context.Background(), req)
	if r.Status != tasks.Completed {
		t.Fatalf("%s: %s (%s)", r.Status, r.Reason, r.Output)
	}
	if got, want := exOut(t, r).Stdout, "BUNDLE_TOKEN conf/creds.pem *** end\nline *** end\n"; got != want {
		t.Fatalf("stdout %q, want %q (stderr %q)", got, want, exOut(t, r).Stderr)
	}
	// Read again (a resumed run's Reread): the same values, no names.
	sec2, err := runsecrets.New("wf2", store.NewRunView(e.raw, store.LocalPrincipal, "", ""), ring,
		runsecrets.WithMaskerOptions(masking.WithLogger(nil)))
	if err != nil {
		t.Fatal(err)
	}
	sec2.Reread(context.Background(), []string{"ci/deploy-bundle"})
	text := "BUNDLE_TOKEN conf/creds.pem env_vars " + exBundleToken + " file-secret-line-one-abc123"
	if got, want := string(sec2.Mask([]byte(text))), "BUNDLE_TOKEN conf/creds.pem env_vars *** ***"; got != want {
		t.Fatalf("after Reread: %q, want %q", got, want)
	}
}
