//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With an env: store whose prefix covers PATH (--store env:PAT), PATH is a
// secret the store serves: `wfrun run --allow-exec` runs EXEC commands with
// the default PATH, not the process's.
func TestRunExecPathUnderEnvStore(t *testing.T) {
	cliEnv(t)
	const marker = "/opt/path-is-a-secret-4b2d"
	t.Setenv("PATH", marker+":"+os.Getenv("PATH"))
	wf := filepath.Join(t.TempDir(), "path.json")
	def := `{"name":"path","version":1,"schemaVersion":2,"tasks":[{"name":"p","taskReferenceName":"p","type":"EXEC",` +
		`"inputParameters":{"command":["sh","-c","printf %s \"$PATH\""]}}]}`
	if err := os.WriteFile(wf, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ store, want string }{
		{"env:PAT", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		{"env:", marker + ":"},
	} {
		out, errOut, code := wfrun(t, "", "run", wf, "--allow-exec", "-q", "--store", tc.store)
		if code != 0 {
			t.Fatalf("--store %s: exit %d: %s", tc.store, code, errOut)
		}
		var res struct{ Stdout string }
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("--store %s: stdout %s", tc.store, out)
		}
		if !strings.HasPrefix(res.Stdout, tc.want) {
			t.Fatalf("--store %s: the command's PATH is %q, want %q…", tc.store, res.Stdout, tc.want)
		}
	}
}
