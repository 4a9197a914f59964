package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A local worker command gets its task definition's runtimeMetadata as a
// JSON file named by WFRUN_RUNTIME_METADATA (never in its environment or
// input), readable by the user only and removed when the command ends; a
// worker echoing a value back has it masked, and a name found nowhere is
// left out.
func TestRunWorkerGetsRuntimeMetadata(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	const token = "rtm-token-6f1e0c9b"
	if _, errOut, code := wfrun(t, token, "secret", "set", "API_TOKEN"); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	tdDir := filepath.Join(dir, "taskdefs")
	if err := os.MkdirAll(tdDir, 0o700); err != nil {
		t.Fatal(err)
	}
	td := `{"name":"uses_token","retryCount":0,"runtimeMetadata":["API_TOKEN","NOT_DEFINED_ANYWHERE"]}`
	if err := os.WriteFile(filepath.Join(tdDir, "uses_token.json"), []byte(td), 0o600); err != nil {
		t.Fatal(err)
	}
	wf := filepath.Join(dir, "wf.json")
	if err := os.WriteFile(wf, []byte(`{"name":"rtm","version":1,"tasks":[
 {"name":"uses_token","taskReferenceName":"t","type":"SIMPLE","inputParameters":{"x":1}}],
 "outputParameters":{"out":"${t.output}"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	seen := filepath.Join(dir, "seen")
	worker := `uses_token=f="$WFRUN_RUNTIME_METADATA"; stat -c %a "$f" > ` + seen + `; echo "$f" >> ` + seen +
		`; env | grep -c rtm-token >> ` + seen + `; printf '{"md":%s}' "$(cat "$f")"`
	out, errOut, code := wfrun(t, "", "run", wf, "-q", "--taskdefs", tdDir, "--worker", worker)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var got struct {
		Out struct {
			MD map[string]any `json:"md"`
		} `json:"out"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if len(got.Out.MD) != 1 || got.Out.MD["API_TOKEN"] != "***" {
		t.Fatalf("worker output %s: want only API_TOKEN, masked", out)
	}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 3 || lines[0] != "600" || lines[2] != "0" {
		t.Fatalf("worker saw mode, path, value in env: %q; want 600, a path, 0", lines)
	}
	if _, err := os.Stat(lines[1]); !os.IsNotExist(err) {
		t.Fatalf("the runtimeMetadata file %s outlived the worker: %v", lines[1], err)
	}
	if strings.Contains(out+errOut, token) {
		t.Fatal("the value reached the CLI's output")
	}
}
