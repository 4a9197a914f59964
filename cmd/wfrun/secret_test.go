package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store/seal"
)

// cliEnv points the CLI at a fresh home with a key file and no overrides.
func cliEnv(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	t.Setenv("WFRUN_HOME", home)
	t.Setenv("WFRUN_STORE", "")
	t.Setenv(seal.EnvMasterKey, "")
	t.Setenv(seal.EnvPreviousKeys, "")
	return home
}

// wfrun runs the root command in-process and returns stdout, stderr and the
// exit code main would use.
func wfrun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.Execute()
	code := 0
	if err != nil {
		errb.WriteString("wfrun: " + err.Error() + "\n")
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), errb.String(), code
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := wfrun(t, stdin, args...)
	if code != 0 {
		t.Fatalf("wfrun %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func TestSecretSetGetNeverPrintsValueWithoutReveal(t *testing.T) {
	cliEnv(t)
	mustRun(t, "", "secret", "set", "api_token", "--value", "tok-VISIBLE-91", "--tag", "env=prod", "--description", "the api")
	for _, format := range []string{"table", "json", "yaml"} {
		out := mustRun(t, "", "secret", "get", "api_token", "-o", format)
		if strings.Contains(out, "tok-VISIBLE-91") {
			t.Fatalf("get -o %s printed the value:\n%s", format, out)
		}
		if !strings.Contains(out, "api_token") || !strings.Contains(out, "prod") {
			t.Fatalf("get -o %s lacks metadata:\n%s", format, out)
		}
	}
	if out := mustRun(t, "", "secret", "get", "api_token", "--reveal"); out != "tok-VISIBLE-91\n" {
		t.Fatalf("--reveal printed %q", out)
	}
	out := mustRun(t, "", "secret", "get", "api_token", "--reveal", "-o", "json")
	var v struct {
		Value   json.RawMessage `json:"value"`
		Version int64           `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || string(v.Value) != `"tok-VISIBLE-91"` || v.Version != 1 {
		t.Fatalf("get --reveal -o json: %s (%v)", out, err)
	}
}

func TestSecretBundleShowsNamesNotValues(t *testing.T) {
	cliEnv(t)
	bundle := `{"env_vars":[{"name":"DB_USER","value":"bundle-user-x"},{"name":"DB_PASS","value":"bundle-pass-y"}],"files":[{"path":".ssh/id_ed25519","content":"PRIVATE-KEY-z"}]}`
	mustRun(t, "", "secret", "set", "ci/bundle", "--json", bundle)
	for _, format := range []string{"table", "json", "yaml"} {
		out := mustRun(t, "", "secret", "get", "ci/bundle", "-o", format)
		for _, leak := range []string{"bundle-user-x", "bundle-pass-y", "PRIVATE-KEY-z"} {
			if strings.Contains(out, leak) {
				t.Fatalf("-o %s leaks %s:\n%s", format, leak, out)
			}
		}
		for _, want := range []string{"bundle", "DB_USER", "DB_PASS", ".ssh/id_ed25519"} {
			if !strings.Contains(out, want) {
				t.Fatalf("-o %s lacks %s:\n%s", format, want, out)
			}
		}
	}
	out := mustRun(t, "", "secret", "ls", "-o", "json")
	if strings.Contains(out, "bundle-pass-y") || !strings.Contains(out, "ci/bundle") {
		t.Fatalf("ls: %s", out)
	}
}

func TestSecretValueSources(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "from-stdin-value\n", "secret", "set", "s1")
	if out := mustRun(t, "", "secret", "get", "s1", "--reveal"); out != "from-stdin-value\n" {
		t.Fatalf("stdin value: %q", out)
	}
	f := filepath.Join(home, "..", "v.json")
	if err := os.WriteFile(f, []byte(`{"k": [1, 2]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "secret", "set", "s2", "--from-file", f, "--as-json")
	if out := mustRun(t, "", "secret", "get", "s2", "--reveal"); out != "{\"k\": [1, 2]}\n" {
		t.Fatalf("file json: %q", out)
	}
	mustRun(t, "", "secret", "set", "s3", "--from-file", f)
	if out := mustRun(t, "", "secret", "get", "s3", "--reveal", "-o", "json"); !strings.Contains(out, `"value": "{\"k\": [1, 2]}\n"`) {
		t.Fatalf("file text: %s", out)
	}
}

func TestSecretBadInput(t *testing.T) {
	cliEnv(t)
	mustRun(t, "", "secret", "set", "keep", "--value", "original")
	cases := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
		leak  string
	}{
		{"invalid name", []string{"secret", "set", "bad name", "--value", "x"}, "", 2, `invalid secret name`, ""},
		{"malformed json", []string{"secret", "set", "keep", "--json", `{"password":"hunter2-leak",`}, "", 2, "malformed JSON at line 1", "hunter2-leak"},
		{"oversize", []string{"secret", "set", "keep", "--value", strings.Repeat("z", 70000)}, "", 2, "limit is 65536 bytes", "zzzz"},
		{"two sources", []string{"secret", "set", "keep", "--value", "a", "--json", `"b"`}, "", 2, "only one of", ""},
		{"bad expires", []string{"secret", "set", "keep", "--value", "a", "--expires", "tomorrow"}, "", 2, "--expires", ""},
		{"bad tag", []string{"secret", "set", "keep", "--value", "a", "--tag", "novalue"}, "", 2, "key=value", ""},
		{"empty stdin", []string{"secret", "set", "keep"}, "", 2, "empty value", ""},
		{"missing", []string{"secret", "get", "nope"}, "", 1, `secret "***": secret not found`, ""},
		{"bad output", []string{"secret", "get", "keep", "-o", "xml"}, "", 2, "want table, json or yaml", ""},
		{"bad scope", []string{"secret", "get", "keep", "--project", "a/b"}, "", 2, "invalid scope", ""},
		{"bad token", []string{"secret", "ls", "--continuation-token", "zzz"}, "", 2, "invalid continuation token", ""},
		{"cas conflict", []string{"secret", "set", "keep", "--value", "new-cas-value", "--if-version", "7"}, "", 1, "version conflict", "new-cas-value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := wfrun(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d containing %q", code, errOut, tc.code, tc.want)
			}
			if tc.leak != "" && strings.Contains(errOut, tc.leak) {
				t.Fatalf("error leaks input: %s", errOut)
			}
		})
	}
	if out := mustRun(t, "", "secret", "get", "keep", "--reveal"); out != "original\n" {
		t.Fatalf("bad input changed the stored secret: %q", out)
	}
}

func TestSecretLsRmTagHistoryExpires(t *testing.T) {
	cliEnv(t)
	mustRun(t, "", "secret", "set", "a/one", "--value", "1")
	mustRun(t, "", "secret", "set", "a/two", "--value", "2", "--expires", "24h")
	mustRun(t, "", "secret", "set", "b/three", "--value", "3", "--expires", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	out := mustRun(t, "", "secret", "ls")
	if !strings.Contains(out, "a/one") || !strings.Contains(out, "a/two") || strings.Contains(out, "b/three") {
		t.Fatalf("ls:\n%s", out)
	}
	out = mustRun(t, "", "secret", "ls", "a/", "--limit", "1", "-o", "json")
	var page []map[string]any
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page) != 1 || page[0]["name"] != "a/one" {
		t.Fatalf("ls --limit 1: %s", out)
	}
	_, errOut, code := wfrun(t, "", "secret", "get", "b/three", "--reveal")
	if code != 1 || !strings.Contains(errOut, "secret expired") || strings.Contains(errOut, "3\n") && !strings.Contains(errOut, "expired") {
		t.Fatalf("expired get: %d %s", code, errOut)
	}
	mustRun(t, "", "secret", "tag", "a/one", "env=prod", "team=x")
	mustRun(t, "", "secret", "tag", "a/one", "--rm", "team")
	out = mustRun(t, "", "secret", "get", "a/one", "-o", "json")
	if !strings.Contains(out, `"env": "prod"`) || strings.Contains(out, "team") || !strings.Contains(out, `"version": 1`) {
		t.Fatalf("tags: %s", out)
	}
	mustRun(t, "", "secret", "set", "a/one", "--value", "1b")
	out = mustRun(t, "", "secret", "history", "a/one")
	if !strings.Contains(out, "VERSION") || strings.Contains(out, "1b") {
		t.Fatalf("history without reveal:\n%s", out)
	}
	out = mustRun(t, "", "secret", "history", "a/one", "--reveal", "-o", "json")
	var h []map[string]any
	if err := json.Unmarshal([]byte(out), &h); err != nil || len(h) != 2 || h[0]["value"] != "1b" || h[1]["value"] != "1" {
		t.Fatalf("history --reveal: %s", out)
	}
	mustRun(t, "", "secret", "rm", "a/one", "never-was")
	if _, _, code := wfrun(t, "", "secret", "get", "a/one"); code != 1 {
		t.Fatal("rm did not remove")
	}
	out = mustRun(t, "", "secret", "sweep")
	if !strings.Contains(out, `"b/three"`) {
		t.Fatalf("sweep: %s", out)
	}
}

func TestSecretScopesFromCLI(t *testing.T) {
	cliEnv(t)
	mustRun(t, "", "secret", "set", "db/password", "--value", "org-pw")
	mustRun(t, "", "secret", "set", "db/password", "--value", "prod-pw", "--project", "shop", "--environment", "prod")
	if out := mustRun(t, "", "secret", "get", "db/password", "--reveal"); out != "org-pw\n" {
		t.Fatalf("org: %q", out)
	}
	if out := mustRun(t, "", "secret", "get", "db/password", "--reveal", "--project", "shop", "--environment", "prod"); out != "prod-pw\n" {
		t.Fatalf("env scope: %q", out)
	}
	out := mustRun(t, "", "secret", "get", "db/password", "--project", "shop", "--environment", "prod")
	if !strings.Contains(out, "environment shop/prod") {
		t.Fatalf("scope shown: %s", out)
	}
}

func TestSecretFileHasNoPlaintextAndRekey(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "tok", "--value", "cli-plaintext-Q7")
	mustRun(t, "", "secret", "set", "tok", "--value", "cli-plaintext-R8")
	mustRun(t, "", "secret", "set", "aws", "--json", `{"SECRET_ACCESS_KEY":"cli-plaintext-S9"}`)
	check := func() {
		raw, err := os.ReadFile(filepath.Join(home, "secrets.db"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"cli-plaintext-Q7", "cli-plaintext-R8", "cli-plaintext-S9"} {
			if bytes.Contains(raw, []byte(p)) {
				t.Fatalf("secrets.db contains %s", p)
			}
		}
	}
	check()
	oldKeys, err := seal.ReadKeyFile(home)
	if err != nil || len(oldKeys) != 1 {
		t.Fatalf("key file: %v", err)
	}
	out := mustRun(t, "", "secret", "rekey")
	if !strings.Contains(out, "re-encrypted 5 value(s)") {
		t.Fatalf("rekey: %s", out)
	}
	newKeys, err := seal.ReadKeyFile(home)
	if err != nil || len(newKeys) != 1 || bytes.Equal(newKeys[0], oldKeys[0]) {
		t.Fatalf("key file after rekey: %d keys, %v", len(newKeys), err)
	}
	check()
	if out := mustRun(t, "", "secret", "get", "tok", "--reveal"); out != "cli-plaintext-R8\n" {
		t.Fatalf("after rekey: %q", out)
	}
	// The old key alone no longer opens anything: everything moved.
	t.Setenv(seal.EnvMasterKey, seal.EncodeKey(oldKeys[0]))
	_, errOut, code := wfrun(t, "", "secret", "get", "tok", "--reveal")
	if code != 1 || !strings.Contains(errOut, "master key does not match the store") || !strings.Contains(errOut, "WFRUN_MASTER_KEY") {
		t.Fatalf("old key after rekey: %d %s", code, errOut)
	}
}

func TestSecretWrongMasterKey(t *testing.T) {
	cliEnv(t)
	k1, _ := seal.GenerateKey()
	k2, _ := seal.GenerateKey()
	t.Setenv(seal.EnvMasterKey, seal.EncodeKey(k1))
	mustRun(t, "", "secret", "set", "x", "--value", "wrong-key-plain")
	t.Setenv(seal.EnvMasterKey, seal.EncodeKey(k2))
	path := filepath.Join(os.Getenv("WFRUN_HOME"), "secrets.db")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "wfrun: open secret store: master key does not match the store: " + path +
		" was written with master key " + seal.KeyIDFor(k1) + ", this process has " + seal.KeyIDFor(k2) +
		"; every process sharing a store needs the same WFRUN_MASTER_KEY (or master.key); to change keys, put the old key in WFRUN_MASTER_KEY_PREVIOUS and run `wfrun secret rekey`\n"
	for _, args := range [][]string{{"secret", "get", "x", "--reveal"}, {"secret", "set", "x", "--value", "other-value"}, {"secret", "set", "new", "--value", "other-value"}} {
		out, errOut, code := wfrun(t, "", args...)
		if code != 1 || out != "" || errOut != want {
			t.Fatalf("wfrun %v with the wrong key: exit %d, stderr %q, want exit 1 and %q", args, code, errOut, want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a command with the wrong key changed secrets.db")
	}
	t.Setenv(seal.EnvMasterKey, "not-a-valid-key")
	_, errOut, code := wfrun(t, "", "secret", "get", "x")
	if code != 1 || !strings.Contains(errOut, "WFRUN_MASTER_KEY") || strings.Contains(errOut, "not-a-valid-key") {
		t.Fatalf("bad key: %d %s", code, errOut)
	}
	t.Setenv(seal.EnvMasterKey, seal.EncodeKey(k1))
	if out := mustRun(t, "", "secret", "get", "x", "--reveal"); out != "wrong-key-plain\n" {
		t.Fatalf("right key again: %q", out)
	}
}
