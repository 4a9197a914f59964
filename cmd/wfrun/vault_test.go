package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/wfrun/wfrun/internal/vaulttest"
)

// vaultEnv points the CLI at srv through WFRUN_STORE (env over Vault over
// the embedded file) and clears every other Vault variable.
func vaultEnv(t *testing.T, srv *vaulttest.Server, token string) {
	t.Helper()
	for _, k := range []string{"VAULT_ADDR", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_CAPATH", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_KUBE_AUTH_ROLE", "VAULT_KUBE_AUTH_PATH", "VAULT_KUBE_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("VAULT_TOKEN", token)
	host := strings.TrimPrefix(srv.Addr, "http://")
	t.Setenv("WFRUN_STORE", "env:|vault+http://"+host+"/secret?prefix=wfrun/|bolt:")
}

func TestRunResolvesSecretFromVault(t *testing.T) {
	home := cliEnv(t)
	srv := vaulttest.Start(t)
	const value = "vault-s3cr3t-bearer-token"
	srv.Put(t, "secret", "wfrun/api_token", map[string]any{"value": value})
	srv.Policy(t, "wfrun-read", `path "secret/data/wfrun/*" { capabilities = ["read"] }`)
	tok := srv.Token(t, &api.TokenCreateRequest{Policies: []string{"wfrun-read"}})
	vaultEnv(t, srv, tok.ClientToken)

	out, errOut, code := wfrun(t, "", "run", workflows+"secret_echo.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, value) {
		t.Fatalf("the Vault value reached the CLI output:\n%s\n%s", out, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %q", out)
	}
	// The INLINE task saw the real value (its length), everything shown is masked.
	if got["header"] != "Bearer ***" || got["length"] != float64(len("Bearer "+value)) || got["storedInput"] != "Bearer ${workflow.secrets.api_token}" {
		t.Fatalf("output: %s", out)
	}
	runs, err := os.ReadFile(filepath.Join(home, "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(runs), value) || strings.Contains(string(runs), tok.ClientToken) {
		t.Fatal("runs.db holds the Vault value or token")
	}

	// The environment layer overrides Vault; a name only in the file falls
	// through Vault (not found there) to the embedded store.
	t.Setenv("WFRUN_SECRET_api_token", "from-env")
	if n := echoLength(t); n != len("Bearer from-env") {
		t.Fatalf("env over vault: length %d", n)
	}
	os.Unsetenv("WFRUN_SECRET_api_token")
	if err := srv.Client(t).KVv2("secret").DeleteMetadata(t.Context(), "wfrun/api_token"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "secret", "set", "api_token", "--value", "from-the-file")
	if n := echoLength(t); n != len("Bearer from-the-file") {
		t.Fatalf("vault over bolt: length %d", n)
	}
}

// echoLength runs secret_echo.json and returns the header length the task saw.
func echoLength(t *testing.T) int {
	t.Helper()
	out, errOut, code := wfrun(t, "", "run", workflows+"secret_echo.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct{ Length int }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %q", out)
	}
	return got.Length
}

func TestRunVaultForbiddenFailsTheRun(t *testing.T) {
	cliEnv(t)
	srv := vaulttest.Start(t)
	const value = "not-for-this-token"
	srv.Put(t, "secret", "wfrun/api_token", map[string]any{"value": value})
	srv.Policy(t, "nothing", `path "secret/data/other/*" { capabilities = ["read"] }`)
	tok := srv.Token(t, &api.TokenCreateRequest{Policies: []string{"nothing"}})
	vaultEnv(t, srv, tok.ClientToken)

	out, errOut, code := wfrun(t, "", "run", workflows+"secret_echo.json")
	if code == 0 || !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, `"api_token"`) {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if strings.Contains(out+errOut, value) || strings.Contains(out+errOut, tok.ClientToken) {
		t.Fatalf("leak: %s %s", out, errOut)
	}
}

// TestRunReadsEachVaultSecretOnce counts reads in Vault's own audit log:
// two tasks of one run use the same secret, and Vault serves it once per run.
func TestRunReadsEachVaultSecretOnce(t *testing.T) {
	cliEnv(t)
	srv := vaulttest.Start(t)
	srv.Put(t, "secret", "wfrun/api_token", map[string]any{"value": "read-me-once"})
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	srv.Write(t, "sys/audit/file", map[string]any{"type": "file", "options": map[string]any{"file_path": auditLog}})
	vaultEnv(t, srv, vaulttest.RootToken)

	wf := filepath.Join(t.TempDir(), "twice.json")
	task := func(ref string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"INLINE","inputParameters":{"evaluatorType":"javascript","t":"${workflow.secrets.api_token}","expression":"$.t.length"}}`
	}
	if err := os.WriteFile(wf, []byte(`{"name":"twice","tasks":[`+task("first")+`,`+task("second")+`],"outputParameters":{"a":"${first.output.result}","b":"${second.output.result}"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	reads := func() int {
		b, err := os.ReadFile(auditLog)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			var e struct {
				Type    string
				Request struct{ Operation, Path string }
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Type == "request" && e.Request.Operation == "read" && e.Request.Path == "secret/data/wfrun/api_token" {
				n++
			}
		}
		return n
	}
	for run := 1; run <= 2; run++ {
		out := mustRun(t, "", "run", wf)
		if !strings.Contains(out, `"a": 12`) || !strings.Contains(out, `"b": 12`) {
			t.Fatalf("run %d output: %s", run, out)
		}
		if n := reads(); n != run {
			t.Fatalf("after run %d Vault served %d reads of the secret, want %d", run, n, run)
		}
	}
}
