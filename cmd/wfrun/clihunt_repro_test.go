package main

// A secret's value typed where wfrun expects a name: the shapes
// TestCLILeakHunt found printed or stored it, one test each. Now a
// definition's refusal is masked with the values of the secrets it names,
// an argument no secret holds (or of the wrong shape) is shown as "***",
// and the audit trail records a name no secret holds by its fingerprint.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reproValue is the value of secret api_key: letters and digits only, so
// it is also a valid secret name.
const reproValue = "Zq7Kp2Lm9Xw4Rt6Yb3Nc"

// reproSetup stores api_key and writes def (which may use %V% for the
// value) as a workflow file.
func reproSetup(t *testing.T, value, def string) (home, path string) {
	t.Helper()
	home = cliEnv(t)
	mustRun(t, "", "secret", "set", "api_key", "--value", value)
	path = filepath.Join(t.TempDir(), "wf.json")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(def, "%V%", value)), 0o600); err != nil {
		t.Fatal(err)
	}
	return home, path
}

func noValueIn(t *testing.T, what, text, value string) {
	t.Helper()
	if strings.Contains(text, value) {
		t.Errorf("%s prints the value of api_key:\n%s", what, text)
	}
}

// A definition that names api_key and holds its value where a task type
// goes: the unknown-type refusal, in `wfrun run` and in `wfrun validate`,
// does not print it.
func TestCLILeakUnknownTaskTypeQuotesValue(t *testing.T) {
	_, wf := reproSetup(t, reproValue, `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t",
	  "type":"%V%","inputParameters":{"key":"${workflow.secrets.api_key}"}}]}`)
	for _, args := range [][]string{{"run", wf}, {"validate", wf}} {
		out, errOut, _ := wfrun(t, "", args...)
		noValueIn(t, "wfrun "+args[0], out+errOut, reproValue)
	}
}

// The same with the value (not a valid secret name) pasted as the name in
// a secret reference, ${workflow.secrets.VALUE}.
func TestCLILeakInvalidSecretNameQuotesValue(t *testing.T) {
	const value = "tok-Zq7+Kp2/Lm9 Xw4Rt"
	_, wf := reproSetup(t, value, `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE",
	  "inputParameters":{"key":"${workflow.secrets.api_key}","evaluatorType":"javascript","expression":"1","oops":"${workflow.secrets.%V%}"}}]}`)
	for _, args := range [][]string{{"run", wf}, {"validate", wf}} {
		out, errOut, _ := wfrun(t, "", args...)
		noValueIn(t, "wfrun "+args[0], out+errOut, value)
	}
}

// The value pasted as the name in a secret reference, when it is a valid
// name: the run is refused before it stores anything (the definition
// holds the value of api_key, which it names), and the read of a secret
// of that name is audited by the name's fingerprint.
func TestCLILeakValueAsSecretNameStored(t *testing.T) {
	home, wf := reproSetup(t, reproValue, `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE",
	  "inputParameters":{"key":"${workflow.secrets.api_key}","evaluatorType":"javascript","expression":"1","oops":"${workflow.secrets.%V%}"}}]}`)
	out, errOut, _ := wfrun(t, "", "run", wf)
	noValueIn(t, "wfrun run", out+errOut, reproValue)
	for _, f := range []string{"runs.db", "secrets.db"} {
		b, err := os.ReadFile(filepath.Join(home, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), reproValue) {
			t.Errorf("%s holds the value of api_key in clear", f)
		}
	}
	for _, format := range []string{"table", "json"} {
		out, errOut, _ := wfrun(t, "", "audit", "ls", "-o", format)
		noValueIn(t, "wfrun audit ls -o "+format, out+errOut, reproValue)
	}
}

// Arguments of the wrong shape are refused by place, not quoted: `run
// --var VALUE` (the NAME= forgotten) and `--var =VALUE`, `secret tag NAME
// VALUE` (the key= forgotten), `runs --continuation-token VALUE`.
func TestCLILeakArgumentEchoed(t *testing.T) {
	_, wf := reproSetup(t, reproValue, `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE",
	  "inputParameters":{"key":"${workflow.secrets.api_key}","evaluatorType":"javascript","expression":"1"}}]}`)
	for _, args := range [][]string{
		{"run", wf, "--var", reproValue},
		{"run", wf, "--var", "=" + reproValue},
		{"secret", "tag", "api_key", reproValue},
		{"runs", "--continuation-token", reproValue},
	} {
		out, errOut, code := wfrun(t, "", args...)
		if code == 0 {
			t.Errorf("%s: exit 0, want an error", args[0])
		}
		noValueIn(t, "wfrun "+args[0]+" (a bad argument)", out+errOut, reproValue)
	}
}

// A value given where a secret's name goes (`secret get VALUE`, `secret
// history VALUE`, `secret rm VALUE`, a value that is not a valid name):
// shown as "***", audited by its fingerprint, which `audit ls --name`
// still finds.
func TestCLILeakValueAsSecretNameArgument(t *testing.T) {
	home, _ := reproSetup(t, reproValue, `{}`)
	const special = "tok+Zq7Kp2Lm9/Xw4"
	mustRun(t, "", "secret", "set", "other_key", "--value", special)
	for _, args := range [][]string{{"secret", "get", reproValue}, {"secret", "history", reproValue}, {"secret", "rm", reproValue}, {"secret", "get", special}} {
		out, errOut, _ := wfrun(t, "", args...)
		noValueIn(t, "wfrun secret "+args[1]+" VALUE", out+errOut, args[2])
	}
	out, errOut, _ := wfrun(t, "", "audit", "ls", "-o", "json")
	noValueIn(t, "wfrun audit ls", out+errOut, reproValue)
	// The name filter finds the events of a name no secret holds.
	out, errOut, code := wfrun(t, "", "audit", "ls", "--name", reproValue, "-o", "json")
	var evs []struct{ Op, Name, Outcome string }
	if code != 0 || json.Unmarshal([]byte(out), &evs) != nil || len(evs) != 4 {
		t.Fatalf("audit ls --name VALUE: exit %d, %d events (want get, history, and rm's get and delete): %s", code, len(evs), errOut)
	}
	for _, e := range evs {
		if e.Outcome != "not-found" || !strings.HasPrefix(e.Name, "hmac-sha256:") || e.Name != evs[0].Name {
			t.Errorf("event %s %s: want not-found under one fingerprint, got %s", e.Op, e.Outcome, strings.ReplaceAll(e.Name, reproValue, "***"))
		}
	}
	if b, err := os.ReadFile(filepath.Join(home, "secrets.db")); err != nil || strings.Contains(string(b), reproValue) {
		t.Errorf("secrets.db holds the value of api_key in clear (%v)", err)
	}
}

// A value given to a typed flag by mistake (`--every VALUE`): the flag
// parser's error quoted it twice; it names the flag and its type.
func TestCLILeakFlagValueEchoed(t *testing.T) {
	_, wf := reproSetup(t, reproValue, `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE",
	  "inputParameters":{"key":"${workflow.secrets.api_key}","evaluatorType":"javascript","expression":"1"}}]}`)
	out, errOut, code := wfrun(t, "", "run", wf, "--every", reproValue)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	noValueIn(t, "wfrun run --every VALUE", out+errOut, reproValue)
}
