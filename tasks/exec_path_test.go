//go:build unix

package tasks_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// With an env: store whose prefix covers PATH (env:PAT, env:p, any case),
// PATH is a secret the store serves: the command gets the default PATH,
// not the process's. A prefix that does not cover it leaves PATH alone.
func TestExecPathUnderEnvStorePrefix(t *testing.T) {
	const marker = "/opt/path-is-a-secret-7c1e"
	procPath := marker + ":" + os.Getenv("PATH")
	t.Setenv("PATH", procPath)
	const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, tc := range []struct {
		name     string
		prefixes []string
		want     string
	}{
		{"PAT", []string{"WFRUN_SECRET_", "PAT"}, defaultPath},
		{"p lower case", []string{"p"}, defaultPath},
		{"PATH exactly", []string{"PATH"}, defaultPath},
		{"empty prefix", []string{""}, defaultPath},
		{"other prefix", []string{"WFRUN_SECRET_", "PATHS_"}, procPath},
		{"no store", nil, procPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := json.Marshal(map[string]any{"command": []string{"sh", "-c", `printf %s "$PATH"`}})
			req := &tasks.Request{WorkflowID: "wf", TaskID: "t", RefName: "exec_ref", TaskType: tasks.TypeExec, Input: in, Services: &tasks.Services{}}
			r := tasks.NewExec(tasks.WithExecStorePrefixes(tc.prefixes)).Execute(context.Background(), req)
			if r.Status != tasks.Completed {
				t.Fatalf("%s: %s (%s)", r.Status, r.Reason, r.Output)
			}
			if got := exOut(t, r).Stdout; got != tc.want {
				t.Fatalf("command's PATH = %q, want %q", got, tc.want)
			}
			if tc.want == defaultPath && strings.Contains(exOut(t, r).Stdout, marker) {
				t.Fatal("the process's PATH reached the command")
			}
		})
	}
}

// With PATH a secret, a bare command name is looked up in the default PATH,
// not in the process's: a program found only in a directory of the secret
// PATH is not run (where it was found would show a piece of the value),
// and sh, found in the default PATH, runs as sh.
func TestExecCommandLookupWhenPathIsASecret(t *testing.T) {
	secretDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(secretDir, "wfrun-probe-3e9a"), []byte("#!/bin/sh\necho ran\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", secretDir+":"+os.Getenv("PATH"))
	run := func(prefixes []string, argv ...string) tasks.Result {
		in, _ := json.Marshal(map[string]any{"command": argv})
		req := &tasks.Request{WorkflowID: "wf", TaskID: "t", RefName: "exec_ref", TaskType: tasks.TypeExec, Input: in, Services: &tasks.Services{}}
		return tasks.NewExec(tasks.WithExecStorePrefixes(prefixes)).Execute(context.Background(), req)
	}
	if r := run(nil, "wfrun-probe-3e9a"); r.Status != tasks.Completed || exOut(t, r).Stdout != "ran\n" {
		t.Fatalf("no store: %s %s %s", r.Status, r.Reason, r.Output)
	}
	r := run([]string{"PAT"}, "wfrun-probe-3e9a")
	if r.Status != tasks.FailedTerminal || !strings.Contains(r.Reason, `"wfrun-probe-3e9a": not found`) || strings.Contains(r.Reason, secretDir) {
		t.Fatalf("PATH a secret: %s %q %s", r.Status, r.Reason, r.Output)
	}
	r = run([]string{"PAT"}, "sh", "-c", `echo "$0"`)
	if r.Status != tasks.Completed || exOut(t, r).Stdout != "sh\n" {
		t.Fatalf("sh with PATH a secret: %s %s %s", r.Status, r.Reason, r.Output)
	}
}
