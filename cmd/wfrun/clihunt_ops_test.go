package main

// The CLI leak hunt's operations on runs that wait (resume, task complete,
// terminate, restart), its bad-input probes, and the check that the hunt
// can find a leak at all.

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rawValue is the text of secret name's value (a string's content, else
// its JSON).
func (h *chHunt) rawValue(name string) string {
	for _, s := range h.secrets {
		if s.Name == name {
			var v string
			if json.Unmarshal(s.Value, &v) == nil {
				return v
			}
			return string(s.Value)
		}
	}
	h.t.Fatalf("no secret %s", name)
	return ""
}

// chWaitDef waits on a HUMAN task after tasks that use every template
// secret (so all are registered), then hands the completion's output to
// an INLINE and a worker.
func (h *chHunt) waitDef(rng *rand.Rand) string {
	var refs []string
	for _, s := range h.secrets {
		if s.Name != "lh_bundle" && !strings.HasPrefix(s.Name, "lh_new") {
			refs = append(refs, "${workflow.secrets."+s.Name+"}")
		}
	}
	rng.Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	all, _ := json.Marshal(refs)
	def := fmt.Sprintf(`{"name":"lh_wait_%d","version":1,"schemaVersion":2,"tasks":[
 {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{"evaluatorType":"javascript","all":%s,
  "expression":"({n: $.all.length, _secrets: {all: $.all}})"},"retryCount":0},
 {"name":"lh_okerr","taskReferenceName":"pre","type":"SIMPLE","inputParameters":{"v":%q}},
 {"name":"approve","taskReferenceName":"approve","type":"HUMAN","inputParameters":{"ask":%q},"retryCount":0},
 {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
  "x":"${approve.output.x}","y":"${approve.output._secrets.y}","expression":"'got ' + $.x + ' and ' + $.y"},"retryCount":0},
 {"name":"lh_echo","taskReferenceName":"post","type":"SIMPLE","inputParameters":{"d":"${approve.output}"}},
 {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"5ms"}}],
 "outputParameters":{"after":"${after.output.result}","post":"${post.output}"}}`, h.seed, all, refs[0], "approve "+refs[1])
	path := filepath.Join(h.dir, fmt.Sprintf("lh_wait_%d.json", h.seed))
	if err := os.WriteFile(path, []byte(def), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

var chWaitsRe = regexp.MustCompile(`waits for an external completion`)

// waitingRuns: a run cancelled (as by a signal) while its HUMAN waits;
// resumed and cancelled again; completed externally with values pasted in
// the completion (registered values of the run, in and out of _secrets);
// resumed to its end. A second run is terminated with a reason quoting a
// value, restarted, cancelled, completed with FAILED and resumed.
func (h *chHunt) waitingRuns(rng *rand.Rand) {
	h.context = fmt.Sprintf("seed %d waiting runs", h.seed)
	path := h.waitDef(rng)
	runUntilWait := func(what string, args ...string) string {
		_, errOut, code := h.cliWatch(what, chWaitsRe, append(args, h.engineArgs()...)...)
		m := chRunIDRe.FindStringSubmatch(errOut)
		if code == 0 || m == nil || !chWaitsRe.MatchString(errOut) {
			h.t.Fatalf("%s: exit %d, want a run cancelled while it waits: %s", what, code, h.m.Scrub([]byte(errOut)))
		}
		return m[1]
	}
	vals := []string{h.rawValue("lh_special"), h.rawValue("lh_unicode"), h.rawValue("lh_token"), h.rawValue("lh_multi")}
	data := func(status string) string {
		b, _ := json.Marshal(map[string]any{"x": "approved by " + vals[rng.Intn(len(vals))],
			"_secrets": map[string]any{"y": vals[rng.Intn(len(vals))]}, "raw": vals[rng.Intn(len(vals))], "status": status})
		return string(b)
	}

	// 1: cancel, resume, cancel, complete, resume.
	id := runUntilWait("run (cancelled while it waits)", "run", path)
	h.shapes["wait: run cancelled while waiting"]++
	h.showAll(true, h.runIDs("table"))
	runUntilWait("resume (cancelled while it waits)", "resume", id)
	if h.probe("wait: task skip with pasted values") {
		_, _, code := h.cli(nil, "", "task skip", "task", "skip", id, "post", "--data", data("skipped"), "--input", data("skip input"), "-o", "json")
		h.statuses[fmt.Sprintf("task skip exit %d", code)]++
	}
	if h.probe("wait: task complete with pasted values") {
		for _, f := range []string{"table", "json"} {
			_, _, code := h.cli(nil, "", "task complete -o "+f, "task", "complete", id, "approve", "--data", data("ok"), "-o", f)
			if code != 0 {
				h.t.Errorf("task complete: exit %d", code)
			}
		}
	}
	_, _, code := h.cli(nil, "", "resume", append([]string{"resume", id, "-o", "yaml"}, h.engineArgs()...)...)
	h.statuses[fmt.Sprintf("waiting run resumed: exit %d", code)]++
	h.showAll(true, h.runIDs("json"))

	// 2: terminate with a reason quoting values, restart, fail the HUMAN.
	id = runUntilWait("second run (cancelled while it waits)", "run", path, "-o", "json")
	if h.probe("wait: terminate --reason with a value") {
		for _, f := range []string{"table", "yaml"} {
			h.cli(nil, "", "terminate -o "+f, "terminate", id, "--reason", "stopped: "+vals[rng.Intn(len(vals))], "-o", f)
		}
	}
	h.showAll(true, []string{id})
	runUntilWait("restart (cancelled while it waits)", "restart", id, "--from-start")
	if h.probe("wait: task complete FAILED with pasted values") {
		h.cli(nil, "", "task complete FAILED", "task", "complete", id, "approve", "--status", "FAILED", "--data", data("failed"))
	}
	_, _, code = h.cli(nil, "", "resume after FAILED", append([]string{"resume", id}, h.engineArgs()...)...)
	h.statuses[fmt.Sprintf("waiting run failed and resumed: exit %d", code)]++
	h.showAll(true, h.runIDs("yaml"))
	h.cli(nil, "", "terminate ended run", "terminate", id, "--reason", "again "+vals[0])
}

// badInput: commands given values where they do not belong, each next to
// an error: the error must name what is wrong, not quote the value.
func (h *chHunt) badInput(rng *rand.Rand) {
	h.context = fmt.Sprintf("seed %d bad input", h.seed)
	def := filepath.Join(h.dir, "lh_wait_"+fmt.Sprint(h.seed)+".json")
	v := func() string {
		return h.rawValue([]string{"lh_alnum", "lh_special", "lh_unicode", "lh_token", "lh_multi", "lh_num"}[rng.Intn(6)])
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	type probe struct {
		shape string
		args  []string
		stdin string
	}
	probes := []probe{
		{"bad input: run --input malformed JSON holding a value", []string{"run", def, "--input", `{"a": ` + q(v()) + `, }`}, ""},
		{"bad input: run --input @- malformed JSON holding a value", []string{"run", def, "--input", "@-"}, `{"a": ` + q(v()) + ` "b": 1}`},
		{"bad input: run --input a JSON string", []string{"run", def, "--input", q(v())}, ""},
		{"bad input: run --input a value, not JSON", []string{"run", def, "--input", v()}, ""},
		// A value holding '=' would be NAME=VALUE, split by the
		// flag's syntax (SECURITY.md: split values are not masked).
		{"bad input: run --var =VALUE (an empty name)", []string{"run", def, "--var", "=" + h.rawValue("lh_alnum")}, ""},
		{"bad input: run --var VALUE (no NAME=)", []string{"run", def, "--var", h.rawValue("lh_alnum")}, ""},
		{"bad input: run --every VALUE", []string{"run", def, "--every", v()}, ""},
		{"bad input: secret tag NAME VALUE (no key=)", []string{"secret", "tag", "lh_alnum", h.rawValue("lh_alnum")}, ""},
		{"bad input: runs --continuation-token VALUE", []string{"runs", "--continuation-token", h.rawValue("lh_alnum")}, ""},
		{"bad input: secret get VALUE (a value as the name)", []string{"secret", "get", h.rawValue("lh_alnum")}, ""},
		{"bad input: secret history VALUE (a value as the name)", []string{"secret", "history", h.rawValue("lh_alnum")}, ""},
		{"bad input: secret rm VALUE (a value as the name)", []string{"secret", "rm", h.rawValue("lh_alnum")}, ""},
		{"bad input: secret get VALUE (a value, not a valid name, as the name)", []string{"secret", "get", h.rawValue("lh_special")}, ""},
		{"bad input: show VALUE (a value as a run id)", []string{"show", h.rawValue("lh_alnum")}, ""},
		{"bad input: terminate VALUE (a value as a run id)", []string{"terminate", h.rawValue("lh_token")}, ""},
		{"bad input: secret set non-UTF-8 stdin holding a value", []string{"secret", "set", "lh_w"}, h.rawValue("lh_unicode") + "\xff\n"},
		{"bad input: task complete --data malformed JSON holding a value", []string{"task", "complete", "00000000-0000-4000-8000-000000000000", "approve", "--data", `{"x": ` + q(v()) + `,}`}, ""},
		{"bad input: secret set bad name next to --value", []string{"secret", "set", "bad name!", "--value", v()}, ""},
		{"bad input: secret set --json malformed holding a value", []string{"secret", "set", "lh_x", "--json", `{"a": ` + q(v()) + `,}`}, ""},
		{"bad input: secret set @- --as-json malformed holding a value", []string{"secret", "set", "lh_y", "--as-json"}, `{"a": ` + q(v()) + `,}`},
		{"bad input: secret set --value and --json both", []string{"secret", "set", "lh_z", "--value", v(), "--json", q(v())}, ""},
		{"bad input: secret set --value with a bad --expires", []string{"secret", "set", "lh_z", "--value", v(), "--expires", "soon"}, ""},
		{"bad input: secret set --value with a bad --tag", []string{"secret", "set", "lh_z", "--value", v(), "--tag", "novalue"}, ""},
		{"bad input: secret set --value --if-version conflict", []string{"secret", "set", "lh_alnum", "--value", v(), "--if-version", "7"}, ""},
		{"bad input: secret set --value unknown flag after it", []string{"secret", "set", "lh_z", "--value", v(), "--nope"}, ""},
		{"bad input: secret get --reveal with a bad format", []string{"secret", "get", "lh_alnum", "--reveal", "-o", "xml"}, ""},
		{"bad input: secret history --reveal with a bad format", []string{"secret", "history", "lh_special", "--reveal", "-o", "xml"}, ""},
		{"bad input: eval --reveal missing file", []string{"eval", "--doc", filepath.Join(h.dir, "none.json"), "--context", filepath.Join(h.dir, "none2.json"), "--reveal"}, ""},
	}
	// Definitions with a value pasted in (their secret named elsewhere in
	// them: refused before anything is stored) and an error near it.
	for i, d := range h.pastedDefs(rng) {
		path := filepath.Join(h.dir, fmt.Sprintf("lh_pasted_%d_%d.json", h.seed, i))
		if err := os.WriteFile(path, []byte(d.def), 0o600); err != nil {
			h.t.Fatal(err)
		}
		probes = append(probes, probe{"bad input: run " + d.shape, []string{"run", path}, ""},
			probe{"bad input: validate " + d.shape, []string{"validate", path}, ""})
	}
	for _, p := range probes {
		if !h.probe(p.shape) {
			continue
		}
		_, _, code := h.cli(nil, p.stdin, p.shape, p.args...)
		// validate reports per file; deleting a missing secret succeeds.
		if code == 0 && !strings.HasPrefix(p.shape, "bad input: validate") && !strings.HasPrefix(p.shape, "bad input: secret rm ") {
			h.t.Errorf("%s: exit 0, want an error", p.shape)
		}
	}
	// Nothing of these may have been stored either.
	h.showAll(false, h.runIDs("json"))
}

type chPasted struct{ shape, def string }

// pastedDefs are definitions that name a secret and hold its value in
// clear, with an error of another kind near the value.
func (h *chHunt) pastedDefs(rng *rand.Rand) []chPasted {
	name := []string{"lh_alnum", "lh_special", "lh_unicode", "lh_token"}[rng.Intn(4)]
	val, _ := json.Marshal(h.rawValue(name))
	ref := `"${workflow.secrets.` + name + `}"`
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	// asName names secret n and uses its value as a secret's name.
	asName := func(n string) string {
		return `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE","inputParameters":{"ref":"${workflow.secrets.` + n +
			`}","evaluatorType":"javascript","expression":"1","bad":"${workflow.secrets.` + strings.Trim(q(h.rawValue(n)), `"`) + `}"}}]}`
	}
	task := func(typ, extra string) string {
		return `{"name":"t","taskReferenceName":"t","type":"` + typ + `","inputParameters":{"ref":` + ref + `,"pasted":` + string(val) + extra + `}}`
	}
	return []chPasted{
		{"definition: a value pasted in", `{"name":"p","version":1,"tasks":[` + task("INLINE", `,"evaluatorType":"javascript","expression":"1"`) + `]}`},
		{"definition: a value pasted in, malformed JSON after it", `{"name":"p","version":1,"tasks":[` + task("INLINE", `,"expression":"1",`) + `]}`},
		{"definition: a value pasted in, unknown task type", `{"name":"p","version":1,"tasks":[` + task("NO_SUCH_TYPE", "") + `]}`},
		{"definition: a value pasted in, unterminated expression", `{"name":"p","version":1,"tasks":[` + task("INLINE", `,"evaluatorType":"javascript","expression":"1","bad":"${workflow.input.x"`) + `]}`},
		{"definition: a value pasted in, reference to an unknown task", `{"name":"p","version":1,"tasks":[` + task("INLINE", `,"evaluatorType":"javascript","expression":"1","u":"${nope.output.x}"`) + `]}`},
		{"definition: a value as an expression", `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE","inputParameters":{"ref":` + ref + `,"evaluatorType":"javascript","expression":` + string(val) + `}}]}`},
		{"definition: a value as a task type", `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":` + string(val) + `,"inputParameters":{"ref":` + ref + `}}]}`},
		{"definition: a value (a valid secret name) as a secret reference's name", asName("lh_alnum")},
		{"definition: a value (not a valid secret name) as a secret reference's name", asName("lh_token")},
		{"definition: a value pasted in a duplicate task", `{"name":"p","version":1,"tasks":[` + task("INLINE", `,"evaluatorType":"javascript","expression":"1"`) + `,` + task("INLINE", `,"evaluatorType":"javascript","expression":"1"`) + `]}`},
	}
}

// The hunt finds a leak when there is one: a worker prints a piece of a
// value (split: SECURITY.md says no masker can catch it) into its output,
// and `secret get --reveal` prints a value; the hunt's scan of the same
// surfaces must report both, and files under WFRUN_HOME that a worker
// writes a value to.
func TestCLILeakHuntFindsDeliberateLeaks(t *testing.T) {
	h := newCHHunt(t, 99)
	h.context = "self-check"
	val := h.rawValue("lh_alnum")
	wf := filepath.Join(h.dir, "selfcheck.json")
	def := `{"name":"selfcheck","version":1,"tasks":[{"name":"lh_piece","taskReferenceName":"p","type":"SIMPLE",
	  "inputParameters":{"v":"${workflow.secrets.lh_alnum}"}}],"outputParameters":{"p":"${p.output.piece}"}}`
	if err := os.WriteFile(wf, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	leaked := filepath.Join(h.home, "worker-wrote-this.txt")
	worker := `lh_piece=sed 's/.*"v":"\([^"]*\)".*/\1/' > ` + leaked + `; printf '{"piece":"%s"}' "$(cut -c2-11 < ` + leaked + `)"`
	if _, errOut, code := h.cli(nil, "", "run", "run", wf, "--worker", worker); code != 0 {
		t.Fatalf("run: exit %d: %s", code, h.m.Scrub([]byte(errOut)))
	}
	h.showAll(false, h.runIDs("json"))
	h.cli(nil, "", "secret get --reveal", "secret", "get", "lh_special", "--reveal")
	h.scanFiles(h.home, "WFRUN_HOME")
	want := map[string]bool{"run stdout": false, "show": false, "secret get --reveal stdout": false, "WFRUN_HOME file worker-wrote-this.txt": false}
	for _, l := range h.leaks {
		for k := range want {
			if strings.Contains(l.surface, k) {
				want[k] = true
			}
		}
	}
	for k, found := range want {
		if !found {
			t.Errorf("the hunt did not find the deliberate leak in %q (found: %d leaks)", k, len(h.leaks))
		}
	}
	if !strings.Contains(string(mustReadOrEmpty(leaked)), val) {
		t.Fatalf("the worker did not write the value: the self-check checks nothing")
	}
}

// moreCommands: `eval` of documents naming the secrets (the context holds
// their values) and of bad expressions into them, without --reveal; a
// test run (--mocks) whose mocked outputs paste values; `secret export`
// (the file must be sealed) and `secret import` of a damaged export.
func (h *chHunt) moreCommands(rng *rand.Rand) {
	h.context = fmt.Sprintf("seed %d more commands", h.seed)
	secrets := map[string]json.RawMessage{}
	for _, s := range h.secrets {
		secrets[s.Name] = s.Value
	}
	ctx, _ := json.Marshal(map[string]any{"secrets": secrets, "workflow": map[string]any{"input": map[string]any{"x": h.rawValue("lh_special")}}})
	ctxPath := filepath.Join(h.dir, "eval-context.json")
	if err := os.WriteFile(ctxPath, ctx, 0o600); err != nil {
		h.t.Fatal(err)
	}
	g := &chGen{h: h, rng: rng, url: h.srv.URL}
	docs := map[string]string{}
	for i := 0; i < 3; i++ {
		// The input's copy of lh_special's value is masked as the
		// document names lh_special (eval masks the secrets it used:
		// a value of one it did not use is data to it).
		b, _ := json.Marshal(map[string]any{"a": g.value(), "b": g.value(), "in": "${workflow.input.x}", "s": "${workflow.secrets.lh_special}"})
		docs[fmt.Sprintf("eval: document %d", i)] = string(b)
	}
	for shape, d := range map[string]string{
		"eval: path into a missing member": `{"a":"${workflow.secrets.lh_obj.nope.deeper}"}`,
		"eval: path into a string":         `{"a":"${workflow.secrets.lh_special.x}"}`,
		"eval: index into a string":        `{"a":"${workflow.secrets.lh_unicode[3]}"}`,
		"eval: unterminated reference":     `{"a":"pre ${workflow.secrets.lh_alnum"}`,
		"eval: path into the input":        `{"a":"${workflow.input.x.y.z}"}`,
		"eval: unknown secret":             `{"a":"${workflow.secrets.lh_none}"}`,
	} {
		docs[shape] = d
	}
	for shape, d := range docs {
		if h.probe(shape) {
			_, _, code := h.cli(nil, d, shape, "eval", "--doc", "-", "--context", ctxPath)
			h.statuses[fmt.Sprintf("eval exit %d", code)]++
		}
	}

	// A test run: every task of the waiting definition mocked, with
	// values of secrets it names pasted in the mocks.
	vals := []string{h.rawValue("lh_special"), h.rawValue("lh_unicode"), h.rawValue("lh_token"), h.rawValue("lh_alnum")}
	val := func() string { return vals[rng.Intn(len(vals))] }
	mocks, _ := json.Marshal(map[string]any{"taskRefToMockOutput": map[string]any{
		"pre":     []any{map[string]any{"status": "FAILED", "output": map[string]any{"e": "failed on " + val()}}, map[string]any{"output": map[string]any{"echo": val()}}},
		"approve": []any{map[string]any{"status": "COMPLETED", "output": map[string]any{"x": val(), "_secrets": map[string]any{"y": val()}}}},
		"post":    []any{map[string]any{"status": "COMPLETED", "output": map[string]any{"echo": val(), "_masked": map[string]any{"m": val()}}}},
		"pause":   []any{map[string]any{"status": "COMPLETED", "output": map[string]any{}}},
	}})
	mpath := filepath.Join(h.dir, "mocks.json")
	if err := os.WriteFile(mpath, mocks, 0o600); err != nil {
		h.t.Fatal(err)
	}
	if h.probe("mocks: a test run with values pasted in mocked outputs") {
		for _, f := range []string{"table", "json"} {
			_, _, code := h.cli(nil, "", "run --mocks -o "+f, append([]string{"run", filepath.Join(h.dir, fmt.Sprintf("lh_wait_%d.json", h.seed)), "--mocks", mpath, "-o", f}, h.engineArgs()...)...)
			h.statuses[fmt.Sprintf("run --mocks exit %d", code)]++
		}
		h.showAll(false, h.runIDs("json"))
	}

	// Exports: sealed, with the master key and with a passphrase.
	pass := filepath.Join(h.dir, "pass.txt")
	if err := os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
	for i, extra := range [][]string{nil, {"--passphrase-file", pass}} {
		path := filepath.Join(h.dir, fmt.Sprintf("export-%d.sealed", i))
		_, _, code := h.cli(nil, "", "secret export", append([]string{"secret", "export", path, "-o", "json"}, extra...)...)
		h.statuses[fmt.Sprintf("secret export exit %d", code)]++
		b := mustReadOrEmpty(path)
		if len(b) == 0 {
			h.t.Errorf("secret export %v wrote nothing", extra)
			continue
		}
		h.scan(fmt.Sprintf("secret export file %d", i), b)
		// A damaged copy: import must say so without quoting what it read.
		bad := append([]byte(nil), b...)
		bad[len(bad)/2] ^= 0x55
		badPath := path + ".damaged"
		_ = os.WriteFile(badPath, bad, 0o600)
		_, _, code = h.cli(nil, "", "secret import (damaged)", append([]string{"secret", "import", badPath}, extra...)...)
		h.statuses[fmt.Sprintf("secret import (damaged) exit %d", code)]++
	}
}
