package envvalues_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/internal/envvalues"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "values.json")
	if err := os.WriteFile(good, []byte(`{"REGION":"eu-west-1","db":{"host":"db1"},"n":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "list.json")
	if err := os.WriteFile(bad, []byte(`["x"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{"CONDUCTOR_ENV_REGION=us-east-1", "CONDUCTOR_ENV_COUNT=42", "PATH=/bin", "CONDUCTOR_ENV_=x", "HOME=/root"}
	for _, tc := range []struct {
		spec    string
		want    map[string]string // name → JSON
		absent  []string
		wantErr string
	}{
		{spec: ""},
		{spec: "env:CONDUCTOR_ENV_", want: map[string]string{"REGION": `"us-east-1"`, "COUNT": `"42"`}, absent: []string{"PATH", "HOME", ""}},
		{spec: "file:" + good, want: map[string]string{"REGION": `"eu-west-1"`, "db": `{"host":"db1"}`, "n": "3"}},
		{spec: "env:", wantErr: "needs a variable prefix"},
		{spec: "file:", wantErr: "needs a path"},
		{spec: "file:" + bad, wantErr: "want a JSON object"},
		{spec: "file:" + filepath.Join(dir, "none.json"), wantErr: "none.json"},
		{spec: "vault://x", wantErr: "want env:PREFIX or file:PATH"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			src, err := envvalues.Parse(tc.spec, environ)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if strings.HasPrefix(tc.spec, "env:") || strings.HasSuffix(tc.spec, bad) {
					if !errors.Is(err, envvalues.ErrBadSpec) {
						t.Fatalf("err %v is not ErrBadSpec", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.spec == "" && src != nil {
				t.Fatalf("empty spec gave %v", src)
			}
			for name, want := range tc.want {
				got, ok, err := src.Value(context.Background(), name)
				if err != nil || !ok || string(got) != want {
					t.Errorf("%s = %s %v %v, want %s", name, got, ok, err, want)
				}
			}
			for _, name := range tc.absent {
				if _, ok, _ := src.Value(context.Background(), name); ok {
					t.Errorf("%q is a value; only prefixed variables are", name)
				}
			}
		})
	}
}

// An env: prefix that would make a credential variable a ${workflow.env.*}
// value (stored in task input in clear, readable by any definition without
// a secrets scope) is refused: the master key, the store URL (it may hold
// a Redis password), the server's key secret, Vault's token, and every
// variable of an env: secret store — the built-in prefixes and those the
// caller names.
func TestParseRefusesCredentialPrefixes(t *testing.T) {
	environ := []string{"WFRUN_MASTER_KEY=k", "WFRUN_SECRET_DB=pw", "CONDUCTOR_SECRET_API_KEY=t", "APP_SECRET_X=y", "WFRUN_ENV_REGION=eu"}
	for _, tc := range []struct {
		spec     string
		reserved []string
		ok       bool
	}{
		{spec: "env:WFRUN_"},
		{spec: "env:W"},
		{spec: "env:WFRUN_MASTER"},
		{spec: "env:WFRUN_SECRET_"},
		{spec: "env:WFRUN_SECRET_APP_"},
		{spec: "env:CONDUCTOR_"},
		{spec: "env:CONDUCTOR_SECRET_"},
		{spec: "env:VAULT_"},
		{spec: "env:VAULT_A"}, // VAULT_ADDR's userinfo may hold a password
		{spec: "env:VAULT_ADDR"},
		{spec: "env:PREFECT__CONTEXT__"},
		{spec: "env:APP_", reserved: []string{"APP_SECRET_"}},
		{spec: "env:APP_SECRET_X_", reserved: []string{"APP_SECRET_"}},
		{spec: "env:WFRUN_ENV_", ok: true},
		{spec: "env:CONDUCTOR_ENV_", ok: true},
		{spec: "env:APP_ENV_", reserved: []string{"APP_SECRET_"}, ok: true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := envvalues.Parse(tc.spec, environ, tc.reserved...)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, envvalues.ErrBadSpec) || !strings.Contains(err.Error(), "credential") {
				t.Fatalf("err %v, want ErrBadSpec naming the credential variables", err)
			}
			for _, kv := range environ {
				if _, v, _ := strings.Cut(kv, "="); strings.Contains(err.Error(), "="+v) {
					t.Fatalf("error %q shows a variable's value", err)
				}
			}
		})
	}
}
