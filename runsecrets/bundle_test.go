package runsecrets_test

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

// An EXEC bundle's variable values and file contents are secret, its
// variable names and file paths are not (`wfrun secret get` lists them):
// whichever door the bundle comes through — read by name, read again on
// resume, resolved whole or by one field in a template — only values and
// contents are registered, so DEPLOY_TOKEN stays readable in output.
func TestBundleRegistersValuesNotNamesOrPaths(t *testing.T) {
	const (
		value   = "bundle-env-value-Qw8Er4Ty"
		content = "bundle-file-content-Ui7Op3As"
		bundle  = `{"env_vars":[{"name":"DEPLOY_TOKEN","value":"` + value + `"}],"files":[{"path":"conf/deploy.key","content":"` + content + `"}]}`
		text    = "DEPLOY_TOKEN conf/deploy.key env_vars " + value + " " + content
		want    = "DEPLOY_TOKEN conf/deploy.key env_vars *** ***"
	)
	ctx := context.Background()
	src := interpolate.MapSecrets{"deploy": []byte(bundle)}
	doors := map[string]func(t *testing.T) string{
		"Secret": func(t *testing.T) string {
			r := newRun(t, "r", src)
			if _, err := r.Secret(ctx, "deploy"); err != nil {
				t.Fatal(err)
			}
			return r.Text(text)
		},
		"Reread": func(t *testing.T) string {
			r := newRun(t, "r", src)
			r.Reread(ctx, []string{"deploy"})
			return r.Text(text)
		},
		"Resolve whole": func(t *testing.T) string {
			r := newRun(t, "r", src)
			env, _ := interpolate.NewDocEnv([]byte(`{"workflow":{}}`))
			if _, _, err := r.Resolve(ctx, interpolate.MustCompile([]byte(`{"b":"${workflow.secrets.deploy}"}`)), env); err != nil {
				t.Fatal(err)
			}
			return r.Text(text)
		},
		"Resolve a field": func(t *testing.T) string {
			r := newRun(t, "r", src)
			env, _ := interpolate.NewDocEnv([]byte(`{"workflow":{}}`))
			if _, _, err := r.Resolve(ctx, interpolate.MustCompile([]byte(`{"v":"${workflow.secrets.deploy.env_vars[0].value}"}`)), env); err != nil {
				t.Fatal(err)
			}
			return r.Text(text)
		},
	}
	for name, door := range doors {
		t.Run(name, func(t *testing.T) {
			if got := door(t); got != want {
				t.Fatalf("masked %q, want %q", got, want)
			}
		})
	}
}
