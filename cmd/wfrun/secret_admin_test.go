package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wfrun/wfrun/store/seal"
)

// secret sweep lists what it removed as a table, JSON or YAML; a bad -o is
// refused before anything is swept.
func TestSecretSweepOutput(t *testing.T) {
	cliEnv(t)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	mustRun(t, "", "secret", "set", "a/live", "--value", "live-value-1")
	mustRun(t, "", "secret", "set", "b/gone", "--value", "gone-value-1", "--expires", past)
	mustRun(t, "", "secret", "set", "c/gone", "--value", "gone-value-2", "--expires", past, "--project", "shop")

	if _, errOut, code := wfrun(t, "", "secret", "sweep", "-o", "xml"); code != 2 || !strings.Contains(errOut, "xml") {
		t.Fatalf("sweep -o xml: exit %d: %s", code, errOut)
	}
	out, errOut, code := wfrun(t, "", "secret", "sweep", "-o", "json")
	if code != 0 {
		t.Fatalf("sweep -o json: exit %d: %s", code, errOut)
	}
	var removed []struct{ Name, Scope string }
	if err := json.Unmarshal([]byte(out), &removed); err != nil {
		t.Fatalf("sweep -o json: %v: %s", err, out)
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].Name < removed[j].Name })
	if len(removed) != 2 || removed[0].Name != "b/gone" || removed[0].Scope != "organization" ||
		removed[1].Name != "c/gone" || removed[1].Scope != "project shop" {
		t.Fatalf("sweep -o json (the bad -o must have swept nothing): %s", out)
	}
	if !strings.Contains(errOut, "swept 2 expired secret(s)") || strings.Contains(out+errOut, "gone-value") {
		t.Fatalf("sweep stderr: %s", errOut)
	}
	if out := mustRun(t, "", "secret", "sweep", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("sweep with nothing expired: %q, want []", out)
	}
	mustRun(t, "", "secret", "set", "d/gone", "--value", "gone-value-3", "--expires", past)
	var fromYAML []map[string]string
	if out := mustRun(t, "", "secret", "sweep", "-o", "yaml"); yaml.Unmarshal([]byte(out), &fromYAML) != nil ||
		len(fromYAML) != 1 || fromYAML[0]["name"] != "d/gone" || fromYAML[0]["scope"] != "organization" {
		t.Fatalf("sweep -o yaml: %s", out)
	}
	if got := mustRun(t, "", "secret", "get", "a/live", "--reveal"); got != "live-value-1\n" {
		t.Fatalf("sweep touched a live secret: %q", got)
	}
}

// secret rekey reports the records it re-sealed and the key now in use; a
// bad -o is refused before a key is generated.
func TestSecretRekeyOutput(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "x", "--value", "rekey-output-value")
	mustRun(t, "", "secret", "set", "y", "--value", "rekey-output-other")
	keyFile := seal.KeyFilePath(home)
	before := readFileOrNil(t, keyFile)
	if _, errOut, code := wfrun(t, "", "secret", "rekey", "-o", "xml"); code != 2 || !strings.Contains(errOut, "xml") {
		t.Fatalf("rekey -o xml: exit %d: %s", code, errOut)
	}
	if after := readFileOrNil(t, keyFile); !bytes.Equal(before, after) {
		t.Fatal("a refused rekey changed master.key")
	}
	if _, err := os.Stat(filepath.Join(home, seal.NextKeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("a refused rekey left %s: %v", seal.NextKeyFileName, err)
	}
	keyID := func() string {
		keys, err := seal.ReadKeyFile(home)
		if err != nil || len(keys) != 1 {
			t.Fatalf("key file: %d keys, %v", len(keys), err)
		}
		ring, err := seal.NewKeyring(keys[0])
		if err != nil {
			t.Fatal(err)
		}
		return ring.KeyID()
	}
	old := keyID()

	out, errOut, code := wfrun(t, "", "secret", "rekey", "-o", "json")
	var res rekeyResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("rekey -o json: exit %d: %q %s", code, out, errOut)
	}
	if res.KeyID == old || res.KeyID != keyID() || res.Reencrypted < 2 || res.OldKeysRemoved != 1 {
		t.Fatalf("rekey -o json: %+v (old key %s, key file now %s)", res, old, keyID())
	}
	var fromYAML map[string]any
	if out := mustRun(t, "", "secret", "rekey", "-o", "yaml"); yaml.Unmarshal([]byte(out), &fromYAML) != nil ||
		fromYAML["keyId"] != keyID() || fromYAML["oldKeysRemoved"] != 1 {
		t.Fatalf("rekey -o yaml: %s", out)
	}
	if out := mustRun(t, "", "secret", "rekey", "--field", "keyId"); out != keyID()+"\n" {
		t.Fatalf("rekey --field keyId: %q, key file %s", out, keyID())
	}
	if out := mustRun(t, "", "secret", "rekey"); !strings.HasPrefix(out, "re-encrypted ") || !strings.Contains(out, "under key "+keyID()) {
		t.Fatalf("rekey table: %q", out)
	}
	if got := mustRun(t, "", "secret", "get", "x", "--reveal"); got != "rekey-output-value\n" {
		t.Fatalf("after rekeys: %q", got)
	}
}
