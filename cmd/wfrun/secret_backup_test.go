package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/internal/redistest"
)

// A bolt store's secrets move to Redis through an export sealed with the
// master key: values, tags, description, expiry and scopes arrive; the file
// holds nothing in clear; both sides record it in their audit trails.
func TestSecretExportImportBoltToRedis(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.backup")
	mustRun(t, "", "secret", "set", "api_token", "--value", "export-plain-tok1", "--tag", "team=pay", "--description", "the API token", "--expires", "2099-01-02T03:04:05Z")
	mustRun(t, "", "secret", "set", "api_token", "--value", "export-plain-tok2")
	mustRun(t, "", "secret", "set", "db", "--json", `{"password":"export-plain-pw"}`, "--project", "shop", "--environment", "prod")
	mustRun(t, "", "secret", "set", "old", "--value", "export-plain-old", "--expires", "2001-01-01T00:00:00Z")

	out, errOut, code := wfrun(t, "", "secret", "export", file, "-o", "json")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	var listed []exportedSecret
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("export -o json: %v: %s", err, out)
	}
	if !strings.Contains(errOut, "exported 2 secret(s) to "+file+", sealed with master key ") || !strings.Contains(errOut, "left out 1 expired secret(s)") {
		t.Fatalf("export stderr: %s", errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("export file mode %v", st.Mode().Perm())
	}
	for _, plain := range []string{"export-plain", "api_token"} {
		if strings.Contains(string(data), plain) {
			t.Fatalf("%q in clear in the export file", plain)
		}
	}
	if strings.Contains(out+errOut, "export-plain") {
		t.Fatalf("a value in the export's output: %s %s", out, errOut)
	}
	if _, errOut, code := wfrun(t, "", "secret", "export", file); code != 1 || !strings.Contains(errOut, "--force") {
		t.Fatalf("export over an existing file: exit %d: %s", code, errOut)
	}
	mustRun(t, "", "secret", "export", file, "--force")

	addr := redistest.Start(t)
	t.Setenv("WFRUN_STORE", "redis://"+addr+"/0")
	out, errOut, code = wfrun(t, "", "secret", "import", file, "-o", "json")
	var results []struct{ Name, Scope, Result string }
	if code != 0 || json.Unmarshal([]byte(out), &results) != nil || len(results) != 2 {
		t.Fatalf("import: exit %d: %s %s", code, out, errOut)
	}
	for _, r := range results {
		if r.Result != "created" {
			t.Fatalf("import results: %s", out)
		}
	}
	if got := mustRun(t, "", "secret", "get", "api_token", "--reveal"); got != "export-plain-tok2\n" {
		t.Fatalf("imported value: %q", got)
	}
	meta := mustRun(t, "", "secret", "get", "api_token", "-o", "json")
	for _, want := range []string{`"team": "pay"`, `"description": "the API token"`, `"version": 1`, `"name": "api_token"`} {
		if !strings.Contains(meta, want) {
			t.Fatalf("imported metadata lacks %s: %s", want, meta)
		}
	}
	if strings.Contains(meta, "2099") {
		t.Fatalf("the second version had no expiry: %s", meta)
	}
	if got := mustRun(t, "", "secret", "get", "db", "--reveal", "--project", "shop", "--environment", "prod", "--field", "value.password"); got != "export-plain-pw\n" {
		t.Fatalf("imported scoped value: %q", got)
	}
	if out := mustRun(t, "", "secret", "import", file); strings.Count(out, "unchanged") != 2 {
		t.Fatalf("second import:\n%s", out)
	}
	if audit := mustRun(t, "", "audit", "ls", "-o", "json"); strings.Count(audit, `"op": "import"`) != 4 || strings.Contains(audit, "export-plain") {
		t.Fatalf("redis audit: %s", audit)
	}
	mustRun(t, "", "audit", "verify")
	t.Setenv("WFRUN_STORE", "")
	if audit := mustRun(t, "", "audit", "ls", "--name", "api_token", "-o", "json"); strings.Count(audit, `"op": "export"`) != 2 {
		t.Fatalf("bolt audit: %s", audit)
	}
}

// A passphrase moves secrets to a store with another master key; the file
// does not open without it or with another; an import over existing
// secrets writes newer versions.
func TestSecretExportImportPassphrase(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "move.sealed")
	pass := filepath.Join(dir, "pass.txt")
	if err := os.WriteFile(pass, []byte("a long enough passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "secret", "set", "api_token", "--value", "moved-value-1", "--tag", "env=prod")
	if _, errOut, code := wfrun(t, "short-pass\n", "secret", "export", file, "--passphrase-file", "-"); code != 2 || !strings.Contains(errOut, "passphrase shorter") {
		t.Fatalf("short passphrase: exit %d: %s", code, errOut)
	}
	mustRun(t, "", "secret", "export", file, "--passphrase-file", pass)

	cliEnv(t) // another home: another master key
	mustRun(t, "", "secret", "set", "api_token", "--value", "target-value-1", "--tag", "stale=yes")
	mustRun(t, "", "secret", "set", "api_token", "--value", "target-value-2")
	if _, errOut, code := wfrun(t, "", "secret", "import", file); code != 2 || !strings.Contains(errOut, "--passphrase-file") {
		t.Fatalf("import without the passphrase: exit %d: %s", code, errOut)
	}
	if _, errOut, code := wfrun(t, "another long passphrase\n", "secret", "import", file, "--passphrase-file", "-"); code != 1 || !strings.Contains(errOut, "does not open") {
		t.Fatalf("import with another passphrase: exit %d: %s", code, errOut)
	}
	out := mustRun(t, "a long enough passphrase\n", "secret", "import", file, "--passphrase-file", "-")
	if !strings.Contains(out, "updated") || !regexp.MustCompile(`api_token\s+organization\s+3\s+updated`).MatchString(out) {
		t.Fatalf("import over an existing secret:\n%s", out)
	}
	if got := mustRun(t, "", "secret", "get", "api_token", "--reveal"); got != "moved-value-1\n" {
		t.Fatalf("after import: %q", got)
	}
	if meta := mustRun(t, "", "secret", "get", "api_token", "-o", "json"); !strings.Contains(meta, `"env": "prod"`) || strings.Contains(meta, "stale") {
		t.Fatalf("tags after import (exactly the exported ones): %s", meta)
	}
	// The file is authenticated: one changed byte of the sealed data and it
	// is refused.
	data, _ := os.ReadFile(file)
	i := strings.Index(string(data), `"data": "`) + len(`"data": "`) + 10
	data[i] ^= 1
	if data[i] == '"' || data[i] == '\\' {
		data[i] ^= 3
	}
	os.WriteFile(file, data, 0o600)
	if _, errOut, code := wfrun(t, "", "secret", "import", file, "--passphrase-file", pass); code != 1 {
		t.Fatalf("altered file: exit %d: %s", code, errOut)
	}
}
