package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/internal/leakscan"
)

// A secret's VALUE typed where `wfrun serve` expects a NAME (a secret's
// name, a task type, the NAME in ${workflow.secrets.NAME}, a workflow
// name, a run or task id): the server must not quote it back, log it or
// store it where the server can know it is a value — the same request
// (definition) names the secret, serve's process already resolved it for
// a run (its log masker knows the value), or the request is about secrets
// and the store holds the value. Each TestServeValueAsName* is one leak
// shape; failures show the value as <secret:NAME>, never itself.
//
// The server holds two secrets: api_key, whose value (letters and digits)
// is also a valid name, and tok, whose value ('+' and '/') is not.

type vnFixture struct {
	t       *testing.T
	ts      *lhServer
	m       *leakscan.Matcher
	key     string // api_key's value: a valid name
	tok     string // tok's value: not a valid name
	logSeen int    // how much of the log was checked already
}

// newVNFixture is a server over api_key and tok; warm: a run has resolved
// both first (serve's process masker knows the values).
func newVNFixture(t *testing.T, warm bool) *vnFixture {
	t.Helper()
	key := "Vk" + lhRand(t, 26)
	tok := "tok+" + lhRand(t, 10) + "/" + lhRand(t, 10)
	secrets := []lhSecret{{name: "api_key", value: key}, {name: "tok", value: tok}}
	for i := range secrets {
		secrets[i].raw, _ = json.Marshal(secrets[i].value)
	}
	var ls []leakscan.Secret
	for _, s := range secrets {
		ls = append(ls, leakscan.Secret{Name: s.name, Value: s.raw, Needles: []string{s.value}})
	}
	f := &vnFixture{t: t, ts: newLHServer(t, secrets), m: leakscan.NewMatcher(ls), key: key, tok: tok}
	if warm {
		f.do("POST", "/api/metadata/workflow", `{"name":"vn_warm","version":1,"schemaVersion":2,"tasks":[
		 {"name":"s","taskReferenceName":"s","type":"SET_VARIABLE","inputParameters":{"a":"${workflow.secrets.api_key}","b":"${workflow.secrets.tok}"}}]}`)
		_, id := f.do("POST", "/api/workflow/vn_warm", `{}`)
		h := &hunt{t: t, ts: f.ts, needles: lhBuildNeedles(nil), secrets: map[string]string{}, runs: map[string]bool{}, tasks: map[string]bool{},
			wfNames: map[string]bool{}, taskTypes: map[string]bool{}, corrIDs: map[string]bool{}, handlers: map[string]bool{}, events: map[string]bool{}, surfaces: map[string]bool{}}
		h.wait(id, "COMPLETED")
	}
	f.logSeen = len(f.ts.logs.String())
	return f
}

// scrub is text with each value shown as <secret:NAME>.
func (f *vnFixture) scrub(s string) string {
	s = f.m.Scrub([]byte(s))
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// label is method and path with the values shown as <secret:NAME>.
func (f *vnFixture) label(method, path string) string {
	for name, v := range map[string]string{"api_key": f.key, "tok": f.tok} {
		for _, form := range []string{v, url.PathEscape(v), url.QueryEscape(v), leakscan.EscapeURIStrict(v)} {
			path = strings.ReplaceAll(path, form, "<secret:"+name+">")
		}
	}
	return method + " " + path
}

func (f *vnFixture) do(method, path, body string) (int, string) {
	f.t.Helper()
	code, _, resp := f.ts.do(f.t, method, path, body)
	return code, resp
}

// answer sends a request and returns its status and the leak found in
// the status line and body ("" when none).
func (f *vnFixture) answer(method, path, body string) (int, string) {
	f.t.Helper()
	code, resp := f.do(method, path, body)
	text := fmt.Sprintf("%d %s", code, resp)
	if _, p := f.m.Find([]byte(text)); p != nil {
		return code, fmt.Sprintf("answer holds <secret:%s> (%s): %s", p.Secret, p.Form, f.scrub(text))
	}
	return code, ""
}

// newLog returns the leak in the log lines written since the last call
// ("" when none).
func (f *vnFixture) newLog() string {
	f.t.Helper()
	all := f.ts.logs.String()
	fresh := all[f.logSeen:]
	f.logSeen = len(all)
	var found []string
	for _, line := range strings.Split(fresh, "\n") {
		if _, p := f.m.Find([]byte(line)); p != nil {
			found = append(found, fmt.Sprintf("log line holds <secret:%s> (%s): %s", p.Secret, p.Form, f.scrub(line)))
		}
	}
	return strings.Join(found, "\n")
}

// runStore returns the leak in the raw run store file ("" when none).
func (f *vnFixture) runStore() string {
	f.t.Helper()
	b, err := os.ReadFile(f.ts.runsPath)
	if err != nil {
		f.t.Fatal(err)
	}
	if i, p := f.m.Find(b); p != nil {
		// Scrubbed, then cut: the window's edges may cut a value, and
		// a piece under 8 bytes is not scrubbed, so they are left out.
		lo, hi := max(0, i-200), min(len(b), i+200)
		x := f.m.Scrub(b[lo:hi])
		if len(x) > 128 {
			x = x[64 : len(x)-64]
		}
		return fmt.Sprintf("raw run store holds <secret:%s> (%s): …%s…", p.Secret, p.Form, x)
	}
	return ""
}

// probe sends a request and fails for a leak in its answer (when answer)
// and in the log lines it wrote (when log).
func (f *vnFixture) probe(method, path, body string, answer, log bool) int {
	f.t.Helper()
	code, leak := f.answer(method, path, body)
	if answer && leak != "" {
		f.t.Errorf("%s (%d): %s", f.label(method, path), code, leak)
	}
	if l := f.newLog(); log && l != "" {
		f.t.Errorf("%s (%d): %s", f.label(method, path), code, l)
	}
	return code
}

func vnJS(s string) string { b, _ := json.Marshal(s); return string(b) }

// vnDefs are workflow definitions that name secret name (so the server
// can know its value) and hold its value v where a name goes.
func vnDefs(name, v string) map[string]string {
	e := strings.Trim(vnJS(v), `"`)
	uses := `"inputParameters":{"a":"${workflow.secrets.` + name + `}"}`
	return map[string]string{
		"task type":         `{"name":"vn_type","version":1,"schemaVersion":2,"tasks":[{"name":"s","taskReferenceName":"s","type":"` + e + `",` + uses + `}]}`,
		"task name":         `{"name":"vn_tname","version":1,"schemaVersion":2,"tasks":[{"name":"` + e + `","taskReferenceName":"s","type":"SET_VARIABLE",` + uses + `}]}`,
		"taskReferenceName": `{"name":"vn_ref","version":1,"schemaVersion":2,"tasks":[{"name":"s","taskReferenceName":"` + e + `","type":"SET_VARIABLE",` + uses + `}]}`,
		"NAME in ${workflow.secrets.NAME}": `{"name":"vn_secref","version":1,"schemaVersion":2,"tasks":[{"name":"s","taskReferenceName":"s","type":"SET_VARIABLE",` +
			`"inputParameters":{"a":"${workflow.secrets.` + name + `}","b":"${workflow.secrets.` + e + `}"}}]}`,
		"workflow name": `{"name":"` + e + `","version":1,"schemaVersion":2,"tasks":[{"name":"s","taskReferenceName":"s","type":"SET_VARIABLE",` + uses + `}]}`,
	}
}

// defsDir returns the leak in the definitions directory ("" when none).
func (f *vnFixture) defsDir() string {
	f.t.Helper()
	var found []string
	entries, _ := os.ReadDir(f.ts.defsDir)
	for _, e := range entries {
		b, err := os.ReadFile(f.ts.defsDir + "/" + e.Name())
		if err != nil {
			continue
		}
		if _, p := f.m.Find(append([]byte(e.Name()+"\n"), b...)); p != nil {
			found = append(found, fmt.Sprintf("definitions directory file holds <secret:%s> (%s)", p.Secret, p.Form))
		}
	}
	return strings.Join(found, "\n")
}

// vnDefinitionProbe registers (POST, PUT) and starts inline each of
// vnDefs for both secrets, the chosen positions only: each must be
// refused without the value in its answer, the log, the run store or the
// definitions directory.
func vnDefinitionProbe(t *testing.T, positions ...string) {
	f := newVNFixture(t, true)
	for _, s := range [][2]string{{"api_key", f.key}, {"tok", f.tok}} {
		defs := vnDefs(s[0], s[1])
		for _, pos := range positions {
			def := defs[pos]
			for _, r := range [][3]string{
				{"POST", "/api/metadata/workflow", def},
				{"PUT", "/api/metadata/workflow", "[" + def + "]"},
				{"POST", "/api/workflow", `{"name":"vn_inline","version":1,"workflowDef":` + def + `}`},
			} {
				what := fmt.Sprintf("%s with %s's value as the %s (the definition names %s)", f.label(r[0], r[1]), s[0], pos, s[0])
				code, leak := f.answer(r[0], r[1], r[2])
				if leak != "" {
					t.Errorf("%s: %d: %s", what, code, leak)
				}
				if code == 200 {
					t.Errorf("%s: 200, want it refused (it holds the value of a secret it names)", what)
				}
				if l := f.newLog(); l != "" {
					t.Errorf("%s: %s", what, l)
				}
			}
		}
	}
	if l := f.runStore(); l != "" {
		t.Errorf("%v: %s", positions, l)
	}
	if l := f.defsDir(); l != "" {
		t.Errorf("%v: %s", positions, l)
	}
}

// TestServeValueAsNameDefinitionTaskType: a definition that reads
// ${workflow.secrets.api_key} and has api_key's value as a task type is
// refused as "unknown task type" before the check that would name the
// secret (engine.CheckDefinitionValues): the refusal is masked with the
// values of the secrets the definition names that the caller may read
// (engine.MaskDefinitionError).
func TestServeValueAsNameDefinitionTaskType(t *testing.T) {
	vnDefinitionProbe(t, "task type")
}

// TestServeValueAsNameDefinitionSecretRef: the value typed as the NAME in
// ${workflow.secrets.NAME}, in a definition that also names the secret:
// a value that is not a valid name is refused as "invalid secret name",
// masked.
func TestServeValueAsNameDefinitionSecretRef(t *testing.T) {
	vnDefinitionProbe(t, "NAME in ${workflow.secrets.NAME}")
}

// TestServeValueAsNameDefinitionWorkflowName: the value typed as the
// definition's name: a value that is not a valid definition name is
// refused as "definition name … allowed are …", masked.
func TestServeValueAsNameDefinitionWorkflowName(t *testing.T) {
	vnDefinitionProbe(t, "workflow name")
}

// TestServeValueAsNameDefinitionOtherNames: the value as a task's name or
// taskReferenceName, in a definition that names the secret: refused
// (engine.CheckDefinitionValues) without quoting it: the guard of the
// positions the other tests do not cover.
func TestServeValueAsNameDefinitionOtherNames(t *testing.T) {
	vnDefinitionProbe(t, "task name", "taskReferenceName")
}

// vnSecretsLookups are the secrets APIs' requests with v where the
// secret's name goes, about a name no secret has (or an invalid one).
func vnSecretsLookups(v string) [][3]string {
	pe := url.PathEscape(v)
	return [][3]string{
		{"GET", "/api/secrets/" + pe, ""},
		{"GET", "/api/secrets/" + pe + "/exists", ""},
		{"GET", "/api/secrets/" + pe + "/tags", ""},
		{"PUT", "/api/secrets/" + pe + "/tags", `[{"key":"a","value":"b"}]`},
		{"DELETE", "/api/secrets/" + pe + "/tags", `[{"key":"a","value":"b"}]`},
		{"GET", "/api/secrets/v1/secret/" + pe, ""},
	}
}

// vnSecretsWrites write and delete a secret named v (a valid name is then
// a secret's name).
func vnSecretsWrites(v string) [][3]string {
	pe := url.PathEscape(v)
	return [][3]string{
		{"DELETE", "/api/secrets/" + pe, ""},
		{"DELETE", "/api/secrets/v1/secret/" + pe, ""},
		{"PUT", "/api/secrets/v1/secret/" + pe, `{"secret":{"a":"b"},"expires":"2099-01-01T00:00:00Z"}`},
		{"PUT", "/api/secrets/" + pe, `"some-new-value-123"`},
		{"GET", "/api/secrets/" + pe, ""},
		{"GET", "/api/secrets/v1/secret/" + pe, ""},
		{"DELETE", "/api/secrets/" + pe, ""},
	}
}

func vnSecretsRequests(v string) [][3]string {
	return append(vnSecretsLookups(v), vnSecretsWrites(v)...)
}

// vnSecretsAPI sends requests(v) for both values to a server no run has
// read the secrets from ("cold") and to one whose run has ("warm": its log
// masker knows the values), and checks the answers (answer) or the log
// (log), and the run store.
func vnSecretsAPI(t *testing.T, requests func(string) [][3]string, answer, log bool) {
	for _, warm := range []bool{false, true} {
		t.Run(map[bool]string{false: "cold", true: "warm"}[warm], func(t *testing.T) {
			newVNFixture(t, warm).probeAll(requests, answer, log)
		})
	}
}

// TestServeValueAsNameSecretsAPIAnswer: a secret's value typed as the
// secret's name in the Orkes and Taskcluster secrets APIs (auth off: the
// caller may read every secret). An error answer about a name no secret
// holds, an invalid one or one the caller may not read does not quote it
// (withholdSecretName: "secret \"***\": secret not found", Taskcluster's
// requestInfo.params.name "***"), whatever the value: masking it with the
// store's values instead would make the answer an oracle with auth on.
func TestServeValueAsNameSecretsAPIAnswer(t *testing.T) {
	vnSecretsAPI(t, vnSecretsRequests, true, false)
}

// TestServeValueAsNameSecretsAPILog: the access log lines of lookups of a
// name no secret has, or an invalid one, record the route, not the path,
// also on a server whose runs have not read the secret ("cold"; "warm":
// the log masker knows the value).
func TestServeValueAsNameSecretsAPILog(t *testing.T) {
	vnSecretsAPI(t, vnSecretsLookups, false, true)
}

// TestServeValueAsNameSecretsAPIHandled: as TestServeValueAsNameSecretsAPIAnswer
// after the client read both secrets through the Orkes API, so the
// server's own masker (the one answers are masked with) holds the values.
func TestServeValueAsNameSecretsAPIHandled(t *testing.T) {
	f := newVNFixture(t, false)
	for _, n := range []string{"api_key", "tok"} {
		if code, _ := f.do("GET", "/api/secrets/"+n, ""); code != 200 {
			t.Fatalf("GET /api/secrets/%s: %d", n, code)
		}
	}
	f.newLog()
	for _, v := range []string{f.key, f.tok} {
		for _, r := range vnSecretsRequests(v) {
			f.probe(r[0], r[1], r[2], true, true)
		}
	}
}

// vnNameRequests are Conductor requests with v where a workflow name, a
// run id, a task type or a task id goes: about nothing secret.
func vnNameRequests(v string) [][3]string {
	pe, qe := url.PathEscape(v), url.QueryEscape
	return [][3]string{
		{"POST", "/api/workflow/" + pe, `{}`},
		{"GET", "/api/workflow/" + pe, ""},
		{"GET", "/api/workflow/search?query=" + qe("workflowId="+v), ""},
		{"GET", "/api/workflow/search?freeText=" + qe(v), ""},
		{"GET", "/api/tasks/poll/batch/" + pe + "?count=1&timeout=1", ""},
		{"GET", "/api/tasks/queue/polldata/all", ""},
		{"GET", "/api/tasks/queue/polldata?taskType=" + qe(v), ""},
		{"POST", "/api/tasks", `{"taskId":` + vnJS(v) + `,"workflowInstanceId":"x","status":"COMPLETED"}`},
		{"GET", "/api/metadata/workflow/" + pe, ""},
		{"GET", "/api/metadata/taskdefs/" + pe, ""},
	}
}

// TestServeValueAsNameLogWarm: on a server whose run read both secrets,
// requests that carry a value where a name goes (workflow name, run id,
// search, poll task type, task id, definition names) log nothing of it.
// Their answers are not checked: they concern nothing secret, and masking
// them with the values the runs read would make each answer an oracle
// (server.New). A guard.
func TestServeValueAsNameLogWarm(t *testing.T) {
	newVNFixture(t, true).probeAll(vnNameRequests, false, true)
}

// probeAll sends requests(v) for both values and checks the answers
// (answer) or the log (log), then the run store.
func (f *vnFixture) probeAll(requests func(string) [][3]string, answer, log bool) {
	for _, v := range []string{f.key, f.tok} {
		for _, r := range requests(v) {
			f.probe(r[0], r[1], r[2], answer, log)
		}
	}
	if l := f.runStore(); l != "" {
		f.t.Errorf("%s", l)
	}
}

// TestServeValueAsNamePollDataWarm: with auth off and a run of this
// process having read both secrets, a worker polls a task type that is a
// secret's value: the poll data (GET /api/tasks/queue/polldata/all, kept
// and shown to every later caller) shows its queue name "***", as the
// same poll's worker id (pollMasker: with auth off, what the server keeps
// of a client's text is masked with the log masker, which knows the
// value).
func TestServeValueAsNamePollDataWarm(t *testing.T) {
	f := newVNFixture(t, true)
	for _, v := range []string{f.key, f.tok} {
		f.do("GET", "/api/tasks/poll/batch/"+url.PathEscape(v)+"?count=1&timeout=1&workerid="+url.QueryEscape(v), "")
	}
	f.do("GET", "/api/tasks/poll/batch/vn_plain_queue?count=1&timeout=1&workerid=w1", "")
	code, body := f.do("GET", "/api/tasks/queue/polldata/all", "")
	if _, p := f.m.Find([]byte(body)); p != nil {
		t.Errorf("GET /api/tasks/queue/polldata/all (%d) holds <secret:%s>: %s", code, p.Secret, f.scrub(body))
	}
	if !strings.Contains(body, `"vn_plain_queue"`) || !strings.Contains(body, `"w1"`) {
		t.Errorf("poll data lost the plain poll: %s", f.scrub(body))
	}
	if l := f.newLog(); l != "" {
		t.Errorf("%s", l)
	}
}
