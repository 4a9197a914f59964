package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store/bolt"
	"github.com/wfrun/wfrun/store/seal"
)

func readFileOrNil(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}

// A rekey of a store without encrypted values is refused before any key is
// generated: the key file is untouched and no next key is left behind.
func TestRekeyOnEnvStoreAddsNoKey(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "x", "--value", "rekey-env-value")
	keyFile := seal.KeyFilePath(home)
	before := readFileOrNil(t, keyFile)
	t.Setenv("WFRUN_STORE", "env:")
	out, errOut, code := wfrun(t, "", "secret", "rekey")
	want := "wfrun: rekey: not supported by this secret backend: this store holds no encrypted values (only bolt and Redis stores do); nothing was changed\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("rekey on env: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, want)
	}
	if after := readFileOrNil(t, keyFile); !bytes.Equal(before, after) {
		t.Fatal("a failed rekey changed master.key")
	}
	if _, err := os.Stat(filepath.Join(home, seal.NextKeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("a failed rekey left %s: %v", seal.NextKeyFileName, err)
	}
	t.Setenv("WFRUN_STORE", "")
	if got := mustRun(t, "", "secret", "get", "x", "--reveal"); got != "rekey-env-value\n" {
		t.Fatalf("after failed rekey: %q", got)
	}
}

// Runs that are not archived (RUNNING, PAUSED, or ended but not yet
// archived) hold values sealed under the current key: rekey refuses, naming
// them, and changes nothing. Archived runs hold no sealed data.
func TestRekeyRefusedWhileRunsLive(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "x", "--value", "rekey-live-value")
	rs, err := runstore.OpenBolt(filepath.Join(home, "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	for id, status := range map[string]string{"run-b": "RUNNING", "run-a": "PAUSED", "run-c": "COMPLETED"} {
		ch := &runstore.Change{Summary: runstore.Summary{ID: id, WorkflowType: "w", Status: status}, Head: []byte(`{}`)}
		if err := rs.Commit(context.Background(), id, ch); err != nil {
			t.Fatal(err)
		}
	}
	done := runstore.Summary{ID: "run-d", WorkflowType: "w", Status: "COMPLETED", Archived: true}
	if err := rs.Commit(context.Background(), "run-d", &runstore.Change{Summary: runstore.Summary{ID: "run-d", WorkflowType: "w", Status: "RUNNING"}, Head: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := rs.Archive(context.Background(), "run-d", []byte(`{"workflowId":"run-d","status":"COMPLETED"}`), done); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	keyFile, secrets := seal.KeyFilePath(home), filepath.Join(home, "secrets.db")
	keyBefore, dbBefore := readFileOrNil(t, keyFile), readFileOrNil(t, secrets)
	out, errOut, code := wfrun(t, "", "secret", "rekey")
	want := "wfrun: rekey: 3 run(s) not yet archived hold values sealed under the current key (run-a (PAUSED), run-b (RUNNING), run-c (COMPLETED)); let them finish or stop them with `wfrun terminate RUN_ID`, then run rekey again; nothing was changed\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("rekey with live runs: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, want)
	}
	if !bytes.Equal(keyBefore, readFileOrNil(t, keyFile)) || !bytes.Equal(dbBefore, readFileOrNil(t, secrets)) {
		t.Fatal("a refused rekey changed master.key or secrets.db")
	}
	if got := mustRun(t, "", "secret", "get", "x", "--reveal"); got != "rekey-live-value\n" {
		t.Fatalf("after refused rekey: %q", got)
	}
}

// A second home on a shared Redis store does not create its own master key:
// it is told to use the store's.
func TestSecondHomeOnSharedRedisCreatesNoKey(t *testing.T) {
	addr := redistest.Start(t)
	first := cliEnv(t)
	url := "redis://" + addr
	t.Setenv("WFRUN_STORE", url)
	mustRun(t, "", "secret", "set", "shared", "--value", "shared-redis-value")
	keys, err := seal.ReadKeyFile(first)
	if err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "second")
	t.Setenv("WFRUN_HOME", second)
	want := "wfrun: open secret store: master key does not match the store: the Redis store at " + url +
		" already holds secrets sealed with master key " + seal.KeyIDFor(keys[0]) + ", and " + second +
		" has no master.key: set WFRUN_MASTER_KEY to the key every process sharing the store uses (no key file was created)\n"
	for _, args := range [][]string{{"secret", "get", "shared", "--reveal"}, {"secret", "set", "other", "--value", "v"}} {
		out, errOut, code := wfrun(t, "", args...)
		if code != 1 || out != "" || errOut != want {
			t.Fatalf("wfrun %v from a second home: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, code, out, errOut, want)
		}
	}
	if _, err := os.Stat(seal.KeyFilePath(second)); !os.IsNotExist(err) {
		t.Fatalf("the second home got its own master.key: %v", err)
	}
	// With the shared key it works.
	t.Setenv(seal.EnvMasterKey, seal.EncodeKey(keys[0]))
	if got := mustRun(t, "", "secret", "get", "shared", "--reveal"); got != "shared-redis-value\n" {
		t.Fatalf("with the shared key: %q", got)
	}
}

// A rekey interrupted after the store was re-sealed (master.key not yet
// switched) strands nothing: reads work through master.key.next, and the
// next rekey finishes with that same key.
func TestRekeyInterruptedResumes(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "x", "--value", "resume-rekey-value")
	old, err := seal.ReadKeyFile(home)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := seal.GenerateKey()
	if err := seal.WriteNextKey(home, fresh); err != nil {
		t.Fatal(err)
	}
	ring, _ := seal.NewKeyring(fresh, seal.WithPreviousKeys(old...))
	s, err := bolt.Open(filepath.Join(home, "secrets.db"), ring)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rekey(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// "Crash" here: master.key still holds the old key.
	if got := mustRun(t, "", "secret", "get", "x", "--reveal"); got != "resume-rekey-value\n" {
		t.Fatalf("read after an interrupted rekey: %q", got)
	}
	if _, errOut, code := wfrun(t, "", "secret", "set", "x", "--value", "v2"); code != 1 || !strings.Contains(errOut, "run `wfrun secret rekey`") {
		t.Fatalf("write after an interrupted rekey: %d %s", code, errOut)
	}
	out := mustRun(t, "", "secret", "rekey")
	if !strings.Contains(out, "under key "+seal.KeyIDFor(fresh)) {
		t.Fatalf("resumed rekey: %s", out)
	}
	keys, err := seal.ReadKeyFile(home)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0], fresh) {
		t.Fatalf("key file after resume: %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, seal.NextKeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("%s left after a successful rekey", seal.NextKeyFileName)
	}
	mustRun(t, "", "secret", "set", "x", "--value", "v2")
}
