package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/wfrun/wfrun/internal/testkit"
)

// EnvBackedSecretsSpec's definition (transcribed) run by the CLI: the
// secret store is Conductor's CONDUCTOR_SECRET_ variables, the env values
// its CONDUCTOR_ENV_ variables (WFRUN_ENV_VALUES) or a JSON file
// (--env-values, which wins over the variable). The worker (`cat`) gets
// the secret resolved and the env value; the stored task input keeps the
// secret's reference literally and holds the env value (resolved when the
// task was scheduled).
func TestRunEnvValues(t *testing.T) {
	const def = "../../testdata/conductor/transcribed/env_backed_secrets_wf.json"
	valuesFile := filepath.Join(t.TempDir(), "env.json")
	if err := os.WriteFile(valuesFile, []byte(`{"REGION":"eu-west-3"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, envVar string
		args         []string
		wantRegion   any
		wantErr      string
	}{
		{name: "WFRUN_ENV_VALUES", envVar: "env:CONDUCTOR_ENV_", wantRegion: "us-east-1"},
		{name: "flag over variable", envVar: "env:CONDUCTOR_ENV_", args: []string{"--env-values", "file:" + valuesFile}, wantRegion: "eu-west-3"},
		{name: "none: the OS environment is not a source", wantRegion: nil},
		{name: "prefix required", args: []string{"--env-values", "env:"}, wantErr: "--env-values: bad env values source \"env:\": env: needs a variable prefix"},
		{name: "bad variable", envVar: "nope", wantErr: "WFRUN_ENV_VALUES: bad env values source \"nope\""},
		// The secret store's own variables never become env values.
		{name: "the store's prefix", args: []string{"--env-values", "env:CONDUCTOR_"}, wantErr: "would make CONDUCTOR_SECRET_ variables (credentials)"},
		{name: "inside the store's prefix", args: []string{"--env-values", "env:CONDUCTOR_SECRET_DB_"}, wantErr: "would make CONDUCTOR_SECRET_ variables (credentials)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cliEnv(t)
			t.Setenv("WFRUN_STORE", "env:CONDUCTOR_SECRET_")
			t.Setenv("CONDUCTOR_SECRET_DB_PASSWORD", "s3cr3t-db-pw")
			t.Setenv("CONDUCTOR_ENV_REGION", "us-east-1")
			t.Setenv("REGION", "from-the-os-environment")
			t.Setenv("WFRUN_ENV_VALUES", tc.envVar)
			args := append([]string{"run", def, "-q", "--worker", "echo_task=cat"}, tc.args...)
			out, errOut, code := wfrun(t, "", args...)
			if tc.wantErr != "" {
				if code != 2 || !strings.Contains(errOut, tc.wantErr) {
					t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.wantErr)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("stdout %q: %v", out, err)
			}
			if got["region"] != tc.wantRegion || got["pwd"] != "***" {
				t.Fatalf("output %s: want region %v and pwd masked", out, tc.wantRegion)
			}
			var sum []struct {
				ID string `json:"workflowId"`
			}
			if err := json.Unmarshal([]byte(mustRun(t, "", "runs", "-o", "json")), &sum); err != nil || len(sum) != 1 {
				t.Fatalf("runs: %v %v", sum, err)
			}
			shown := mustRun(t, "", "show", sum[0].ID, "-o", "json")
			var wf struct {
				Tasks []struct {
					Input map[string]any `json:"inputData"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal([]byte(shown), &wf); err != nil || len(wf.Tasks) != 1 {
				t.Fatalf("show: %v\n%s", err, shown)
			}
			if in := wf.Tasks[0].Input; in["pwd"] != "${workflow.secrets.DB_PASSWORD}" || in["region"] != tc.wantRegion {
				t.Fatalf("stored input %v: want the secret reference literal and region %v", in, tc.wantRegion)
			}
			if strings.Contains(out+errOut+shown, "s3cr3t-db-pw") {
				t.Fatal("the secret value was printed")
			}
		})
	}
}

// wfrun serve with Conductor's own variables: the secret store is
// env:CONDUCTOR_SECRET_ and the env values WFRUN_ENV_VALUES=env:CONDUCTOR_ENV_.
// EnvBackedSecretsSpec's and TaskDeclaredSecretsSpec's definitions
// (transcribed) registered over HTTP: the stored input keeps the secret
// literal and holds the env value; the polling worker gets both resolved,
// and the declared names in runtimeMetadata (MISSING_ONE left out); the
// server's log holds no value.
func TestServeEnvValuesAndDeclaredSecrets(t *testing.T) {
	home := cliEnv(t)
	t.Setenv("WFRUN_STORE", "env:CONDUCTOR_SECRET_")
	t.Setenv("CONDUCTOR_SECRET_DB_PASSWORD", "s3cr3t-serve-pw")
	t.Setenv("CONDUCTOR_SECRET_API_KEY", "key-123-serve")
	t.Setenv("CONDUCTOR_ENV_REGION", "us-east-1")
	t.Setenv("WFRUN_ENV_VALUES", "env:CONDUCTOR_ENV_")
	cmd, sc, _ := cliProcess(t, "serve", "--addr", "127.0.0.1:0", "--home", home, "--log-level", "debug")
	var log strings.Builder
	m := waitLine(t, sc, regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`), &log)
	base := "http://" + m[1]
	var logMu sync.Mutex
	go func() {
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
		}
	}()
	const dir = "../../testdata/conductor/transcribed/"
	for _, f := range []string{"echo_task.json", "declared_secret_task.json"} {
		b, err := os.ReadFile(dir + f)
		if err != nil {
			t.Fatal(err)
		}
		if st, body := testkit.HTTPCall(t, "POST", base+"/api/metadata/taskdefs", "["+string(b)+"]"); st != 200 {
			t.Fatalf("register %s: %d %s", f, st, body)
		}
	}
	for _, f := range []string{"env_backed_secrets_wf.json", "declared_secret_wf.json"} {
		b, err := os.ReadFile(dir + f)
		if err != nil {
			t.Fatal(err)
		}
		if st, body := testkit.HTTPCall(t, "POST", base+"/api/metadata/workflow", string(b)); st != 200 {
			t.Fatalf("register %s: %d %s", f, st, body)
		}
	}
	poll := func(name string) map[string]any {
		t.Helper()
		_, body := testkit.HTTPCall(t, "GET", base+"/api/tasks/poll/batch/"+name+"?workerid=w&count=1&timeout=5000", "")
		var got []map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
			t.Fatalf("poll %s: %s", name, body)
		}
		return got[0]
	}

	_, envID := testkit.HTTPCall(t, "POST", base+"/api/workflow/env_backed_secrets_wf", `{}`)
	task := poll("echo_task")
	if in, _ := task["inputData"].(map[string]any); in["pwd"] != "s3cr3t-serve-pw" || in["region"] != "us-east-1" {
		t.Fatalf("polled input %v", task["inputData"])
	}
	_, view := testkit.HTTPCall(t, "GET", base+"/api/workflow/"+envID+"?includeTasks=true", "")
	if !strings.Contains(view, `"pwd":"${workflow.secrets.DB_PASSWORD}"`) || !strings.Contains(view, `"region":"us-east-1"`) {
		t.Fatalf("stored task input: %s", view)
	}

	_, _ = testkit.HTTPCall(t, "POST", base+"/api/workflow/declared_secret_wf", `{}`)
	task = poll("declared_secret_task")
	md, _ := task["runtimeMetadata"].(map[string]any)
	if md["API_KEY"] != "key-123-serve" || md["REGION"] != "us-east-1" || len(md) != 2 {
		t.Fatalf("runtimeMetadata %v", task["runtimeMetadata"])
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(log.String(), "s3cr3t-serve-pw") || strings.Contains(log.String(), "key-123-serve") {
		t.Fatalf("the serve log holds a secret value:\n%s", log.String())
	}
}
