package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A SIMPLE task's registered definition (retryCount) applies: from
// --taskdefs, and from the definitions directory; the progress lines say
// when the retry comes. Without one, the task's own retryCount 0 leaves
// it unretried (its ad-hoc definition's 3 retries come 60 s apart).
func TestRunTaskDefsRetry(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	os.WriteFile(wf, []byte(`{"name":"w","tasks":[{"name":"flaky","taskReferenceName":"f"}]}`), 0o600)
	unretried := filepath.Join(t.TempDir(), "wf.json")
	os.WriteFile(unretried, []byte(`{"name":"w","tasks":[{"name":"flaky","taskReferenceName":"f","retryCount":0}]}`), 0o600)
	// Fails on its first call in each run directory, succeeds on the second.
	worker := func(marker string) string {
		return `flaky=if [ -e ` + marker + ` ]; then echo '{"ok":true}'; else touch ` + marker + `; exit 3; fi`
	}
	tdDir := t.TempDir()
	os.WriteFile(filepath.Join(tdDir, "flaky.json"), []byte(`{"name":"flaky","retryCount":1,"retryDelaySeconds":0,"timeoutSeconds":60}`), 0o600)

	_, errOut, code := wfrun(t, "", "run", unretried, "--worker", worker(filepath.Join(dir, "m1")))
	if code == 0 || strings.Contains(errOut, "retrying") {
		t.Fatalf("with retryCount 0 and no task definition the task is not retried: %s", errOut)
	}
	out, errOut, code := wfrun(t, "", "run", wf, "--taskdefs", tdDir, "--worker", worker(filepath.Join(dir, "m2")))
	if code != 0 || !strings.Contains(out, `"ok"`) {
		t.Fatalf("--taskdefs: exit %d: %s %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "task f (flaky) retrying in 0s (retry 1 of 1)") {
		t.Fatalf("--taskdefs: no progress line for the retry: %s", errOut)
	}
	// The same definition in the definitions directory (beside the workflow).
	os.WriteFile(filepath.Join(dir, "flaky_def.json"), []byte(`[{"name":"flaky","retryCount":1,"retryDelaySeconds":0}]`), 0o600)
	out, errOut, code = wfrun(t, "", "run", wf, "--worker", worker(filepath.Join(dir, "m3")))
	if code != 0 || !strings.Contains(out, `"ok"`) {
		t.Fatalf("definitions directory: exit %d: %s %s", code, out, errOut)
	}
	_, errOut, code = wfrun(t, "", "run", wf, "--taskdefs", filepath.Join(dir, "missing"))
	if code == 0 || !strings.Contains(errOut, "--taskdefs") {
		t.Fatalf("missing --taskdefs dir: %d %s", code, errOut)
	}
}

// EVENT tasks publish where --event-sink says (Conductor's queue names).
func TestRunEventSinkFile(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	os.WriteFile(wf, []byte(`{"name":"orders","tasks":[{"name":"e","taskReferenceName":"notify","type":"EVENT","sink":"conductor",
	  "inputParameters":{"order":"${workflow.input.order}"}}]}`), 0o600)
	sink := filepath.Join(dir, "events.jsonl")
	_, errOut, code := wfrun(t, "", "run", wf, "--input", `{"order":7}`, "--event-sink", "file:"+sink)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(sink)
	if err != nil || !strings.Contains(string(b), `"queue":"conductor:orders:notify"`) || !strings.Contains(string(b), `"order":7`) {
		t.Fatalf("sink file %q %v", b, err)
	}
	_, errOut, code = wfrun(t, "", "run", wf, "--input", `{"order":7}`)
	if code == 0 || !strings.Contains(errOut, "no event sink configured") {
		t.Fatalf("without a sink: %d %s", code, errOut)
	}
	_, errOut, code = wfrun(t, "", "run", wf, "--event-sink", "carrier-pigeon")
	if code != 2 || !strings.Contains(errOut, "--event-sink") {
		t.Fatalf("bad sink: %d %s", code, errOut)
	}
}

// A task's own retryCount applies whether or not the task has a
// definition (without one, it overrides the run's ad-hoc definition, as
// Conductor's DeciderService takes it over the TaskDef
// MetadataMapperService made): run and validate warn about none of them.
func TestRetryCountWithoutTaskDefIsNotWarned(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	os.WriteFile(wf, []byte(`{"name":"w","tasks":[
	  {"name":"bare","taskReferenceName":"b","type":"INLINE","retryCount":2,
	   "inputParameters":{"evaluatorType":"javascript","expression":"1"}},
	  {"name":"inline_def","taskReferenceName":"i","type":"INLINE","retryCount":2,"taskDefinition":{"retryCount":1},
	   "inputParameters":{"evaluatorType":"javascript","expression":"1"}},
	  {"name":"registered","taskReferenceName":"r","type":"INLINE","retryCount":2,
	   "inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`), 0o600)
	os.WriteFile(filepath.Join(dir, "registered_def.json"), []byte(`{"name":"registered","retryCount":1}`), 0o600)

	for _, args := range [][]string{{"run", wf}, {"validate", wf}} {
		_, errOut, code := wfrun(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if strings.Contains(errOut, "retryCount") || strings.Contains(errOut, `"bare"`) || strings.Contains(errOut, `"inline_def"`) || strings.Contains(errOut, `"registered"`) {
			t.Errorf("%v: a warning about a task's retryCount:\n%s", args, errOut)
		}
	}
}
