package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRestartReopensParents: a run whose inline sub-workflow failed (its
// worker command fails the first time) is retried by `wfrun restart` on
// the child, or on the parent with --resume-subworkflow-tasks: the child
// runs its failed task again, the parent's SUB_WORKFLOW task completes and
// the parent runs its next task.
func TestRestartReopensParents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   func(parent, child string) []string
		stdout string // what restart prints: the output of the run named
	}{
		{"restart of the child", func(_, child string) []string { return []string{"restart", child} }, `"done": "yes"`},
		{"restart of the parent with --resume-subworkflow-tasks", func(parent, _ string) []string {
			return []string{"restart", parent, "--resume-subworkflow-tasks"}
		}, `"after": "yes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cliEnv(t)
			dir := t.TempDir()
			wf, mark := filepath.Join(dir, "wf.json"), filepath.Join(dir, "failed-once")
			if err := os.WriteFile(wf, []byte(`{"name":"p","tasks":[
			  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"c",
			   "workflowDefinition":{"name":"c","tasks":[{"name":"flaky","taskReferenceName":"flaky","retryCount":0}]}}},
			  {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'yes'"}}],
			 "outputParameters":{"after":"${after.output.result}"}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			worker := "flaky=test -f " + mark + ` || { touch ` + mark + `; exit 3; }; echo '{"done":"yes"}'`
			_, errOut, code := wfrun(t, "", "run", wf, "--worker", worker)
			if code != 1 {
				t.Fatalf("first run: exit %d %s", code, errOut)
			}
			parent := regexp.MustCompile(`run ([0-9a-f-]{36})`).FindStringSubmatch(errOut)[1]
			var p struct {
				Status string `json:"status"`
				Tasks  []struct {
					Status        string `json:"status"`
					SubWorkflowID string `json:"subWorkflowId"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal([]byte(mustRun(t, "", "show", parent, "-o", "json")), &p); err != nil || len(p.Tasks) != 1 {
				t.Fatalf("show: %v %+v", err, p)
			}
			child := p.Tasks[0].SubWorkflowID
			out, errOut, code := wfrun(t, "", append(tc.args(parent, child), "--worker", worker)...)
			if code != 0 || !strings.Contains(out, tc.stdout) {
				t.Fatalf("restart: exit %d\n%s\n%s", code, out, errOut)
			}
			if err := json.Unmarshal([]byte(mustRun(t, "", "show", parent, "-o", "json")), &p); err != nil {
				t.Fatal(err)
			}
			if p.Status != "COMPLETED" || len(p.Tasks) != 2 || p.Tasks[0].SubWorkflowID != child || p.Tasks[0].Status != "COMPLETED" {
				t.Fatalf("parent after the restart: %+v", p)
			}
		})
	}
	if _, errOut, code := wfrun(t, "", "restart", "x", "--from-start", "--resume-subworkflow-tasks"); code != 2 {
		t.Fatalf("both flags: exit %d %s", code, errOut)
	}
}
