package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// restart --use-latest-definitions: a run of v1 that failed restarts on v2
// of its definition, found in the directory of the file it was started
// from (or --definitions); with no definition of its name there, restart
// refuses in one line and the run stays FAILED.
func TestRestartUseLatestDefinitions(t *testing.T) {
	cliEnv(t)
	dir, other := t.TempDir(), t.TempDir()
	v1 := filepath.Join(dir, "v1.json")
	if err := os.WriteFile(v1, []byte(`{"name":"evolving","version":1,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'a'"}},
	  {"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"(function(){ throw new Error('v1 is broken'); })()"}}],
	  "outputParameters":{"a":"${a.output.result}"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	failed := func() string {
		t.Helper()
		_, errOut, code := wfrun(t, "", "run", v1)
		if code != 1 {
			t.Fatalf("first run: exit %d %s", code, errOut)
		}
		return regexp.MustCompile(`run ([0-9a-f-]{36})`).FindStringSubmatch(errOut)[1]
	}
	id, id2 := failed(), failed()
	v2 := `{"name":"evolving","version":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'a'"}},
	  {"name":"added","taskReferenceName":"task_added","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'v2'"}}],
	  "outputParameters":{"a":"${a.output.result}","added":"${task_added.output.result}"}}`
	if err := os.WriteFile(filepath.Join(dir, "v2.json"), []byte(v2), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := wfrun(t, "", "restart", id, "--use-latest-definitions")
	if code != 0 || !strings.Contains(out, `"added": "v2"`) {
		t.Fatalf("restart: exit %d\n%s\n%s", code, out, errOut)
	}
	if show := mustRun(t, "", "show", id, "-o", "json"); !strings.Contains(show, `"version": 2`) || !strings.Contains(show, `"task_added"`) {
		t.Fatalf("show: %s", show)
	}
	// --definitions names a directory without the definition.
	_, errOut, code = wfrun(t, "", "restart", id2, "--use-latest-definitions", "--definitions", other)
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "evolving") {
		t.Fatalf("restart without the definition: exit %d %q", code, errOut)
	}
	if show := mustRun(t, "", "show", id2, "-o", "json"); !strings.Contains(show, `"status": "FAILED"`) {
		t.Fatalf("after the refused restart: %s", show)
	}
	if _, errOut, code := wfrun(t, "", "restart", id2, "--use-latest-definitions", "--resume-subworkflow-tasks"); code != 2 {
		t.Fatalf("exclusive flags: exit %d %s", code, errOut)
	}
}
