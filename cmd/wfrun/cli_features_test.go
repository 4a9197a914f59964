package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// A 2 000-iteration loop reported by the plain (piped) view: a handful of
// lines, not three per task.
func TestPlainProgressSummarisesLoops(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false)
	if p.live {
		t.Fatal("a buffer is not a terminal")
	}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.now = func() time.Time { return clock }
	ev := func(kind, ref, typ, status, reason string) {
		p.event(engine.Event{Kind: kind, RunID: "run-1", WorkflowType: "loop", TaskRef: ref, TaskType: typ, Status: status, Reason: reason, Time: clock})
	}
	ev(engine.EventWorkflow, "", "", "RUNNING", "")
	ev(engine.EventTask, "loop", "DO_WHILE", "SCHEDULED", "")
	ev(engine.EventTask, "loop", "DO_WHILE", "IN_PROGRESS", "")
	for i := 1; i <= 2000; i++ {
		ref := fmt.Sprintf("step__%d", i)
		ev(engine.EventTask, ref, "INLINE", "SCHEDULED", "")
		ev(engine.EventTask, ref, "INLINE", "IN_PROGRESS", "")
		if i == 1500 {
			ev(engine.EventTask, ref, "INLINE", "FAILED", "boom")
			ev(engine.EventTask, ref, "INLINE", "IN_PROGRESS", "retry 1 of 1")
		}
		ev(engine.EventTask, ref, "INLINE", "COMPLETED", "")
		clock = clock.Add(10 * time.Millisecond) // 20 s in all: one "so far" line
	}
	ev(engine.EventTask, "loop", "DO_WHILE", "COMPLETED", "")
	ev(engine.EventWorkflow, "", "", "COMPLETED", "")
	p.close()
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 12 {
		t.Fatalf("%d lines for a 2000-iteration loop:\n%s", len(lines), out)
	}
	for _, want := range []string{
		"task step__1 (INLINE) COMPLETED",
		"task step__1500 (INLINE) FAILED: boom",
		"task step__1500 (INLINE) IN_PROGRESS: retry 1 of 1",
		"COMPLETED so far",
		"..step__2000 (INLINE):",
		"task loop (DO_WHILE) COMPLETED",
		"run run-1 (loop) COMPLETED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SCHEDULED") {
		t.Errorf("plain progress prints SCHEDULED transitions:\n%s", out)
	}
	// Every iteration is accounted for: 1 shown + the summarised ones.
	total := 1
	for _, m := range regexp.MustCompile(`(\d+) more iterations?`).FindAllStringSubmatch(out, -1) {
		var n int
		fmt.Sscan(m[1], &n)
		total += n
	}
	if total != 2000 { // step__1500's failure has lines of its own, its completion is counted
		t.Errorf("iterations accounted for: %d, want 2000:\n%s", total, out)
	}
}

// The real CLI, piped: one line per ended task and a loop summary.
func TestRunProgressPlainLines(t *testing.T) {
	cliEnv(t)
	_, errOut, code := cli(t, "", "run", workflows+"hello.json", "--input", `{"name":"ann","times":40}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) > 10 || !strings.Contains(errOut, "echo__2..echo__40 (INLINE): 39 more iterations COMPLETED") {
		t.Fatalf("%d progress lines:\n%s", len(lines), errOut)
	}
	if strings.Contains(errOut, "\x1b[") {
		t.Fatalf("colour codes when piped:\n%q", errOut)
	}
}

// A failed run's reason is printed once, and its id is on stdout in JSON.
func TestFailedRunReasonOnceAndIDOnStdout(t *testing.T) {
	cliEnv(t)
	wf := writeFile(t, t.TempDir(), "missing.json", `{"name":"m","tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE",
	  "inputParameters":{"v":"${workflow.secrets.absent_secret}","expression":"1"}}]}`)
	out, errOut, code := cli(t, "", "run", wf, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res runResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.WorkflowID == "" || res.Status != "FAILED" {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if n := strings.Count(errOut, `"absent_secret"`); n != 1 {
		t.Errorf("the missing secret is named %d times on stderr:\n%s", n, errOut)
	}
	if !strings.Contains(errOut, "wfrun: run "+res.WorkflowID+" ended FAILED") {
		t.Errorf("final line lacks the run id:\n%s", errOut)
	}
}

func TestRunsPaginationAndStatus(t *testing.T) {
	cliEnv(t)
	for i := 0; i < 5; i++ {
		if _, errOut, code := cli(t, "", "run", workflows+"hello.json", "--input", `{"name":"p","times":1}`, "-q"); code != 0 {
			t.Fatal(errOut)
		}
	}
	var seen []string
	args := []string{"runs", "--limit", "2", "--field", "workflowId"}
	for page := 0; page < 5; page++ {
		out, errOut, code := cli(t, "", args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		seen = append(seen, strings.Fields(out)...)
		m := regexp.MustCompile(`more runs: wfrun runs --limit 2 --continuation-token (\S+)`).FindStringSubmatch(errOut)
		if m == nil {
			break
		}
		args = []string{"runs", "--limit", "2", "--field", "workflowId", "--continuation-token", m[1]}
	}
	all, _, _ := cli(t, "", "runs", "--limit", "0", "--field", "workflowId")
	if strings.Join(seen, "\n")+"\n" != all || len(seen) != 5 {
		t.Fatalf("pages %q, all %q", seen, all)
	}
	if _, errOut, code := cli(t, "", "runs", "--status", "BOGUS"); code != 2 || !strings.Contains(errOut, "COMPLETED") {
		t.Errorf("--status BOGUS: exit %d: %s", code, errOut)
	}
	if out, _, code := cli(t, "", "runs", "--status", "completed", "--limit", "0", "--field", "status"); code != 0 || strings.Count(out, "COMPLETED") != 5 {
		t.Errorf("--status completed: %d %q", code, out)
	}
	if _, _, code := cli(t, "", "runs", "--continuation-token", "!!"); code != 2 {
		t.Errorf("bad token: exit %d", code)
	}
}

func TestSecretConventions(t *testing.T) {
	cliEnv(t)
	// A value under 4 bytes is stored, with a warning at write time.
	_, errOut, code := cli(t, "", "secret", "set", "short", "--value", "tok")
	if code != 0 || !strings.Contains(errOut, "cannot be masked") || strings.Contains(errOut, "tok ") {
		t.Fatalf("short value: exit %d: %s", code, errOut)
	}
	if _, errOut, _ := cli(t, "", "secret", "set", "db", "--json", `{"user":"ab","password":"pw-98765"}`); !strings.Contains(errOut, "field user is 2 bytes") {
		t.Errorf("short field not warned: %s", errOut)
	}
	if _, errOut, _ := cli(t, "", "secret", "set", "long", "--value", "long-enough-value"); errOut != "" {
		t.Errorf("warning for a long value: %s", errOut)
	}
	// From stdin (not a terminal): read whole, no prompt.
	if _, errOut, code := cli(t, "s3cr3t-from-stdin\n", "secret", "set", "piped"); code != 0 || strings.Contains(errOut, "Value for") {
		t.Fatalf("stdin: exit %d: %s", code, errOut)
	}
	if out, _, _ := cli(t, "", "secret", "get", "piped", "--reveal"); out != "s3cr3t-from-stdin\n" {
		t.Errorf("stdin value = %q", out)
	}
	// rm of a missing name: exit 0, and says so, by place (a name no
	// secret holds may be a value typed by mistake: not shown).
	out, _, code := cli(t, "", "secret", "rm", "piped", "never_there")
	if code != 0 || !strings.Contains(out, `removed secret "piped"`) || !strings.Contains(out, `no secret of the 2nd name: nothing to remove`) || strings.Contains(out, "never_there") {
		t.Errorf("rm: %d %q", code, out)
	}
	// ls has a scope column (and field).
	cli(t, "", "secret", "set", "scoped", "--value", "scoped-value", "--project", "shop", "--environment", "prod")
	out, _, _ = cli(t, "", "secret", "ls", "--project", "shop", "--environment", "prod")
	if !strings.Contains(out, "SCOPE") || !strings.Contains(out, "shop/prod") {
		t.Errorf("ls has no scope column:\n%s", out)
	}
	if out, _, _ := cli(t, "", "secret", "ls", "--field", "scope"); !strings.Contains(out, "organization") {
		t.Errorf("ls --field scope: %q", out)
	}
}

// A JSON number is masked by its text, so one of under 4 digits cannot be
// masked either: set warns of it as of a short string (a whole value or a
// field), without echoing it.
func TestSecretSetWarnsShortNumber(t *testing.T) {
	cliEnv(t)
	_, errOut, code := cli(t, "", "secret", "set", "pin", "--json", `{"code":48213,"short":12}`)
	if code != 0 || !strings.Contains(errOut, "field short is 2 bytes") || strings.Contains(errOut, "12 ") {
		t.Errorf("short number field: exit %d: %q", code, errOut)
	}
	if strings.Contains(errOut, "field code") {
		t.Errorf("warning for a long number: %q", errOut)
	}
	_, errOut, code = cli(t, "", "secret", "set", "n", "--json", `7`)
	if code != 0 || !strings.Contains(errOut, "cannot be masked") || strings.Contains(errOut, "7 ") {
		t.Errorf("short number: exit %d: %q", code, errOut)
	}
}

// A 2 MiB input does not make show's table (or runs) print a 2 MiB row.
func TestTablesElideLongValues(t *testing.T) {
	cliEnv(t)
	big := strings.Repeat("x", 2<<20)
	input := writeFile(t, t.TempDir(), "in.json", `{"name":"ann","times":1,"blob":"`+big+`"}`)
	out, errOut, code := cli(t, "", "run", workflows+"hello.json", "--input", "@"+input, "-q", "--field", "workflowId")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	table, _, code := cli(t, "", "show", id)
	if code != 0 || len(table) > 8<<10 || !strings.Contains(table, "MiB)") {
		t.Fatalf("show table is %d bytes:\n%.2000s", len(table), table)
	}
	for _, l := range strings.Split(table, "\n") {
		if len([]rune(l)) > 4*maxCell+40 {
			t.Errorf("line of %d runes: %.200s", len(l), l)
		}
	}
	js, _, _ := cli(t, "", "show", id, "-o", "json")
	if !strings.Contains(js, big) {
		t.Error("-o json lost the full value")
	}
}

func TestCellElision(t *testing.T) {
	cases := []struct{ in, want string }{
		{"short", "short"},
		{"a\tb\nc", "a b c"},
		{strings.Repeat("é", 200), strings.Repeat("é", maxCell-20) + "… (400 B)"},
	}
	for _, c := range cases {
		if got := cell(c.in); got != c.want {
			t.Errorf("cell(%.20q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNoHomeIsAnError(t *testing.T) {
	t.Setenv("WFRUN_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "")
	_, errOut, code := cli(t, "", "runs")
	if code == 0 || !strings.Contains(errOut, "HOME is not set") || !strings.Contains(errOut, "WFRUN_HOME") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// --home fixes it.
	if _, errOut, code := cli(t, "", "runs", "--home", t.TempDir()); code != 0 {
		t.Fatalf("--home: exit %d: %s", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := cli(t, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "wfrun ") || !strings.Contains(out, "go1.") {
		t.Fatalf("--version: %d %q", code, out)
	}
	out2, _, _ := cli(t, "", "version")
	if out2 != out {
		t.Errorf("version %q != --version %q", out2, out)
	}
	version, commit = "v9.8.7", "0123456789abcdef0123"
	t.Cleanup(func() { version, commit = "", "" })
	out, _, _ = cli(t, "", "version", "-o", "json")
	var v buildVersion
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version != "v9.8.7" || v.Commit != commit {
		t.Fatalf("-ldflags values not reported: %v %q", err, out)
	}
	if s := versionString(); !strings.Contains(s, "v9.8.7 (commit 0123456789ab)") {
		t.Errorf("versionString = %q", s)
	}
}

// Completion through cobra's __complete: run ids, secret names, enum flags.
func TestCompletion(t *testing.T) {
	cliEnv(t)
	out, errOut, code := cli(t, "", "run", workflows+"hello.json", "-q", "--field", "workflowId")
	if code != 0 {
		t.Fatal(errOut)
	}
	id := strings.TrimSpace(out)
	cli(t, "", "secret", "set", "api_token", "--value", "tok-1234567")
	cli(t, "", "secret", "set", "api_other", "--value", "tok-7654321")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "show", ""}, []string{id + "\thello COMPLETED"}},
		{[]string{"__complete", "show", id[:4]}, []string{id}},
		{[]string{"__complete", "secret", "get", "api_"}, []string{"api_token", "api_other"}},
		{[]string{"__complete", "secret", "rm", "api_token", "api_o"}, []string{"api_other"}},
		{[]string{"__complete", "runs", "--status", ""}, []string{"RUNNING", "COMPLETED", "FAILED"}},
		{[]string{"__complete", "runs", "-o", ""}, []string{"json", "yaml", "table"}},
		{[]string{"__complete", "serve", "--env-values", ""}, []string{"env:CONDUCTOR_ENV_", "file:"}},
	}
	for _, c := range cases {
		out, errOut, code := cli(t, "", c.args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", c.args, code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: completion lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}

// A template's placeholder endpoint is flagged at validate time, not at
// every run; expressions and real URLs are not.
func TestValidateWarnsAboutPlaceholderURI(t *testing.T) {
	cliEnv(t)
	out, errOut, code := cli(t, "", "validate", workflows+"rotate_token.json")
	if code != 0 || !strings.Contains(out, ": ok") || !strings.Contains(errOut, `/tasks/0/inputParameters/uri: "<YOUR_TOKEN_API_ENDPOINT>" is not an http(s) URL`) {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, uri := range []string{"https://auth.example.com/token", "${workflow.input.url}", "http://127.0.0.1:18089/token"} {
		def := `{"name":"x","tasks":[{"name":"h","taskReferenceName":"h","type":"SWITCH","evaluatorType":"value-param","expression":"k",
		  "inputParameters":{"k":"a"},"decisionCases":{"a":[{"name":"t","taskReferenceName":"t","type":"HTTP","inputParameters":{"uri":"` + uri + `"}}]}}]}`
		if w := literalURIWarnings([]byte(def)); len(w) != 0 {
			t.Errorf("%s: %q", uri, w)
		}
		bad := strings.Replace(def, uri, "TODO", 1)
		if w := literalURIWarnings([]byte(bad)); len(w) != 1 || !strings.Contains(w[0], "/tasks/0/decisionCases/a/0/inputParameters/uri") {
			t.Errorf("nested placeholder: %q", w)
		}
	}
	out, _, _ = cli(t, "", "validate", workflows+"rotate_token.json", "-o", "json")
	if !strings.Contains(out, `"warnings"`) {
		t.Errorf("-o json lacks the warning: %s", out)
	}
}

// Too-deep JSON is called that, not "malformed"; paths are named once.
func TestJSONErrorMessages(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	deep := writeFile(t, dir, "deep.json", strings.Repeat("[", 20000)+strings.Repeat("]", 20000))
	arr := writeFile(t, dir, "array.json", `[1,2]`)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", workflows + "hello.json", "--input", "@" + deep}, "--input: JSON nested too deeply"},
		{[]string{"validate", deep}, "JSON nested too deeply"},
		{[]string{"secret", "set", "x_deep", "--json", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)}, "nested too deeply"},
		{[]string{"validate", arr}, "the document is a JSON array; a workflow definition is a JSON object"},
		{[]string{"validate", filepath.Join(dir, "absent.json")}, "open " + filepath.Join(dir, "absent.json") + ": no such file"},
	}
	for _, c := range cases {
		_, errOut, code := cli(t, "", c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "malformed") || strings.Contains(errOut, "engine.Definition") {
			t.Errorf("%.60q: exit %d:\n%s", c.args, code, errOut)
		}
		if strings.Count(errOut, filepath.Join(dir, "absent.json")) > 1 {
			t.Errorf("path named twice:\n%s", errOut)
		}
	}
}

// A release build's -ldflags -X values are what --version prints.
func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wfrun")
	}
	bin := filepath.Join(t.TempDir(), "wfrun")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v1.2.3 -X main.commit=abcdef0123456789", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "wfrun v1.2.3 (commit abcdef012345) go1.") {
		t.Fatalf("--version = %q (%v)", out, err)
	}
}

// A fork not followed by a JOIN is valid (Conductor registers and starts
// it), so validate answers ok with a warning; run warns too, and the run
// fails at the fork with Conductor's reason.
func TestForkWithoutJoinIsAWarning(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	def := writeFile(t, dir, "unjoined.json", `{"name":"unjoined","version":1,"schemaVersion":2,"tasks":[
	  {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[[{"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"1s"}}]]}]}`)
	const warning = `/tasks/0: FORK_JOIN "f" is not followed by a JOIN task, so a run fails when it reaches it`
	out, errOut, code := cli(t, "", "validate", def)
	if code != 0 || !strings.Contains(out, ": ok") || !strings.Contains(errOut, warning) {
		t.Fatalf("validate: exit %d: %s %s", code, out, errOut)
	}
	_, errOut, code = cli(t, "", "run", def)
	if code != 1 || !strings.Contains(errOut, warning) || !strings.Contains(errOut, "Fork task definition is not followed by a join task") {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
}

// A reference to no task of the definition is invalid in a top-level
// task's inputParameters (Conductor refuses it there) but valid elsewhere
// — a SWITCH case's task, the outputParameters — where it resolves to
// null, as in Conductor: validate answers ok with a warning naming where,
// and run warns and completes with the null.
func TestUnknownReferenceOutsideTopLevelInputsIsAWarning(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	def := writeFile(t, dir, "unknown_ref.json", `{"name":"unknown_ref","version":1,"schemaVersion":2,"tasks":[
	  {"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"x","inputParameters":{"x":"a"},
	   "decisionCases":{"a":[{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"$.v === null","v":"${nosuch.output.x}"}}]}}],
	  "outputParameters":{"ghost":"${ghost.output.y}","wasNull":"${i.output.result}"}}`)
	nested := `/tasks/0/decisionCases/a/0/inputParameters: reference to unknown task "nosuch" (no task has this taskReferenceName) resolves to null`
	output := `/outputParameters: reference to unknown task "ghost" (no task has this taskReferenceName) resolves to null`
	out, errOut, code := cli(t, "", "validate", def)
	if code != 0 || !strings.Contains(out, ": ok") || !strings.Contains(errOut, nested) || !strings.Contains(errOut, output) {
		t.Fatalf("validate: exit %d: %s %s", code, out, errOut)
	}
	out, errOut, code = cli(t, "", "run", def)
	if code != 0 || !strings.Contains(errOut, nested) || !strings.Contains(out, `"wasNull": true`) {
		t.Fatalf("run: exit %d: %s %s", code, out, errOut)
	}
	top := writeFile(t, dir, "unknown_top.json", `{"name":"unknown_top","version":1,"schemaVersion":2,"tasks":[
	  {"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1","v":"${nosuch.output.x}"}}]}`)
	if _, errOut, code := cli(t, "", "validate", top); code != 2 || !strings.Contains(errOut, `/tasks/0/inputParameters: reference to unknown task "nosuch"`) {
		t.Fatalf("validate of a top-level unknown reference: exit %d: %s", code, errOut)
	}
}
