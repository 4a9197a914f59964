package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
)

// scopesYAML: alice starts the runs (their owner); bob may read and
// manage runs of "guarded", rita only read them; carol holds scopes for
// another workflow only; sam may start runs of guarded, not read others';
// callers without credentials are admitted with a scope that has nothing
// to do with workflows.
const scopesYAML = `
applications:
  - keyId: admin
    keySecret: admin-secret-0123456789
    scopes: ["*"]
  - keyId: alice
    keySecret: alice-secret-0123456789
    scopes: ["workflows:start:guarded", "tasks:poll:*"]
  - keyId: bob
    keySecret: bob-secret-0123456789
    scopes: ["workflows:read:guarded", "workflows:manage:guard*"]
  - keyId: rita
    keySecret: rita-secret-0123456789
    scopes: ["workflows:read:guarded"]
  - keyId: carol
    keySecret: carol-secret-0123456789
    scopes: ["workflows:read:other", "workflows:manage:other", "metadata:write:other"]
  - keyId: sam
    keySecret: sam-secret-0123456789
    scopes: ["workflows:start:guarded"]
anonymousScopes: ["secrets:get:public/*"]
`

// guardedDef waits on "hold" (a WAIT task), then on "later".
const guardedDef = `{"name":"guarded","version":1,"schemaVersion":2,"tasks":[
  {"name":"hold","taskReferenceName":"hold","type":"WAIT"},
  {"name":"later","taskReferenceName":"later","type":"WAIT"}]}`

type scopedServer struct {
	*conductorServer
	tokens map[string]string // key id → token; "anonymous" → ""
}

func newScopedServer(t *testing.T) *scopedServer {
	t.Helper()
	return newScopedServerYAML(t, scopesYAML, nil)
}

// newScopedServerYAML is newScopedServer with another auth config holding
// scopesYAML's keys, over runs (nil: a memory run store).
func newScopedServerYAML(t *testing.T, yaml string, runs runstore.Store) *scopedServer {
	t.Helper()
	cfg, err := server.ParseAuthConfig([]byte(yaml), "test")
	if err != nil {
		t.Fatal(err)
	}
	ts := &scopedServer{conductorServer: newConductorServer(t, runs, server.WithAuth(cfg)), tokens: map[string]string{"anonymous": ""}}
	for _, k := range []string{"admin", "alice", "bob", "rita", "carol", "sam"} {
		_, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"`+k+`","keySecret":"`+k+`-secret-0123456789"}`)
		var tok struct{ Token string }
		if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
			t.Fatalf("token of %s: %s", k, body)
		}
		ts.tokens[k] = tok.Token
	}
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", guardedDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	return ts
}

// as sends a request as the application key who ("anonymous": none).
func (ts *scopedServer) as(t *testing.T, who, method, path, body string) (int, string, string) {
	t.Helper()
	if tok := ts.tokens[who]; tok != "" {
		return ts.do(t, method, path, body, "X-Authorization", tok)
	}
	return ts.do(t, method, path, body)
}

// snapshot is what a refused call must leave as it was: the run's status,
// correlation id, input and its tasks' states.
func (ts *scopedServer) snapshot(t *testing.T, id string) string {
	t.Helper()
	st, _, body := ts.as(t, "admin", "GET", "/api/workflow/"+id, "")
	if st != 200 {
		t.Fatalf("read %s: %d %s", id, st, body)
	}
	var d struct {
		Status        string         `json:"status"`
		CorrelationID string         `json:"correlationId"`
		Input         map[string]any `json:"input"`
		Tasks         []struct {
			TaskID string `json:"taskId"`
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(d.Input)
	out := fmt.Sprintf("%s %q %s", d.Status, d.CorrelationID, in)
	for _, tk := range d.Tasks {
		out += " " + tk.Ref + ":" + tk.TaskID + ":" + tk.Status
	}
	return out
}

// waitFor polls the run (as admin) until ok.
func (ts *scopedServer) waitFor(t *testing.T, id, what string, ok func(snap string) bool) {
	t.Helper()
	var snap string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if snap = ts.snapshot(t, id); ok(snap) {
			return
		}
	}
	t.Fatalf("run %s never %s: %s", id, what, snap)
}

// startGuarded starts a run of guarded as alice, held at "hold"; ended
// runs are terminated (by admin) before they are handed out.
func (ts *scopedServer) startGuarded(t *testing.T, ended bool) string {
	t.Helper()
	st, _, id := ts.as(t, "alice", "POST", "/api/workflow/guarded", `{"n":1}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	ts.waitFor(t, id, "held at hold", func(s string) bool { return strings.Contains(s, "hold:") && strings.HasSuffix(s, ":IN_PROGRESS") })
	if ended {
		if st, _, body := ts.as(t, "admin", "POST", "/api/workflow/"+id+"/terminate", ""); st != 200 {
			t.Fatalf("terminate: %d %s", st, body)
		}
		ts.waitFor(t, id, "terminated", func(s string) bool { return strings.HasPrefix(s, "TERMINATED") })
	}
	return id
}

// TestRunScopes: every endpoint that reads or changes a run, as the run's
// owner (alice), a principal with the workflow's scopes (bob), one that
// may only read it (rita), one with scopes for another workflow (carol)
// and a caller without credentials. A caller that may not read the run is
// answered exactly as for a run that does not exist; one that may read it
// but not change it gets 403 naming the scope; a refused call changes
// nothing.
func TestRunScopes(t *testing.T) {
	ts := newScopedServer(t)
	type endpoint struct {
		method, path, body string // path: %s is the run id
		ok                 int
		manage, ended      bool
	}
	endpoints := map[string]endpoint{
		"execution":        {method: "GET", path: "/api/workflow/%s", ok: 200},
		"status":           {method: "GET", path: "/api/workflow/%s/status", ok: 200},
		"pause":            {method: "PUT", path: "/api/workflow/%s/pause", ok: 200, manage: true},
		"resume":           {method: "PUT", path: "/api/workflow/%s/resume", ok: 500, manage: true}, // RUNNING, not PAUSED: Conductor's 500
		"decide":           {method: "PUT", path: "/api/workflow/decide/%s", ok: 200, manage: true},
		"skiptask":         {method: "PUT", path: "/api/workflow/%s/skiptask/later", ok: 200, manage: true},
		"resetcallbacks":   {method: "POST", path: "/api/workflow/%s/resetcallbacks", ok: 200, manage: true},
		"terminate":        {method: "POST", path: "/api/workflow/%s/terminate", ok: 200, manage: true},
		"delete":           {method: "DELETE", path: "/api/workflow/%s", ok: 200, manage: true},
		"signal":           {method: "POST", path: "/api/tasks/%s/COMPLETED/signal", body: `{"by":"signal"}`, ok: 200, manage: true},
		"signal sync":      {method: "POST", path: "/api/tasks/%s/COMPLETED/signal/sync", body: `{"by":"signal"}`, ok: 200, manage: true},
		"complete by ref":  {method: "POST", path: "/api/tasks/%s/hold/COMPLETED", body: `{"by":"ref"}`, ok: 200, manage: true},
		"restart":          {method: "POST", path: "/api/workflow/%s/restart", ok: 204, manage: true, ended: true},
		"retry":            {method: "POST", path: "/api/workflow/%s/retry", ok: 204, manage: true, ended: true},
		"rerun":            {method: "POST", path: "/api/workflow/%s/rerun", body: `{"workflowInput":{"n":2}}`, ok: 200, manage: true, ended: true},
		"rerun from start": {method: "POST", path: "/api/workflow/%s/rerun", body: `{}`, ok: 200, manage: true, ended: true},
	}
	names := make([]string, 0, len(endpoints))
	for n := range endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	// What each caller may do to alice's runs of guarded.
	callers := []struct {
		who          string
		read, manage bool
	}{
		{"alice", true, true}, {"bob", true, true}, {"rita", true, false}, {"carol", false, false}, {"anonymous", false, false},
	}
	const missing = "00000000-0000-0000-0000-000000000000"
	for _, name := range names {
		ep := endpoints[name]
		for _, c := range callers {
			t.Run(name+"/"+c.who, func(t *testing.T) {
				id := ts.startGuarded(t, ep.ended)
				before := ts.snapshot(t, id)
				st, _, body := ts.as(t, c.who, ep.method, fmt.Sprintf(ep.path, id), ep.body)
				switch {
				case c.read && (c.manage || !ep.manage):
					if st != ep.ok {
						t.Fatalf("%d %s, want %d", st, body, ep.ok)
					}
					return
				case c.read:
					want := "principal " + c.who + " lacks scope workflows:manage:guarded"
					if st != 403 || !strings.Contains(body, `"message":"`+want+`"`) {
						t.Fatalf("%d %s, want 403 %q", st, body, want)
					}
				default:
					// The very answer a run that does not exist gets.
					mst, _, mbody := ts.as(t, c.who, ep.method, fmt.Sprintf(ep.path, missing), ep.body)
					if st != 404 || mst != 404 || strings.ReplaceAll(body, id, "ID") != strings.ReplaceAll(mbody, missing, "ID") {
						t.Fatalf("unreadable run: %d %s; missing run: %d %s", st, body, mst, mbody)
					}
					if strings.Contains(body, "guarded") || strings.Contains(body, "alice") {
						t.Fatalf("the answer tells about the run: %s", body)
					}
				}
				time.Sleep(20 * time.Millisecond) // a change made anyway would show by now
				if after := ts.snapshot(t, id); after != before {
					t.Fatalf("a refused %s changed the run:\n before %s\n after  %s", name, before, after)
				}
			})
		}
	}
}

// TestStartScope: starting a run needs workflows:start:<workflow>, by
// name or with an inline definition (which names the scope its own name
// needs), as a run or as a workflow test; nothing is started when refused.
func TestStartScope(t *testing.T) {
	ts := newScopedServer(t)
	inline := `{"workflowDef":` + strings.Replace(guardedDef, `"guarded"`, `"inline_wf"`, 1) + `,"input":{}}`
	for _, tc := range []struct {
		who, method, path, body string
		want                    int
		scope                   string
	}{
		{"alice", "POST", "/api/workflow/guarded", `{}`, 200, ""},
		{"alice", "POST", "/api/workflow", `{"name":"guarded","input":{}}`, 200, ""},
		{"admin", "POST", "/api/workflow", inline, 200, ""},
		{"alice", "POST", "/api/workflow", inline, 403, "workflows:start:inline_wf"},
		{"bob", "POST", "/api/workflow/guarded", `{}`, 403, "workflows:start:guarded"},
		{"bob", "POST", "/api/workflow", `{"name":"guarded","input":{}}`, 403, "workflows:start:guarded"},
		{"carol", "POST", "/api/workflow/guarded", `{}`, 403, "workflows:start:guarded"},
		{"anonymous", "POST", "/api/workflow/guarded", `{}`, 403, "workflows:start:guarded"},
		{"bob", "POST", "/api/workflow/test", `{"name":"guarded","input":{},"taskRefToMockOutput":{}}`, 403, "workflows:start:guarded"},
		{"alice", "POST", "/api/workflow/test", `{"name":"guarded","input":{},"taskRefToMockOutput":{"hold":[{"status":"COMPLETED","output":{}}],"later":[{"status":"COMPLETED","output":{}}]}}`, 200, ""},
	} {
		t.Run(tc.who+" "+tc.path+" "+tc.body[:min(len(tc.body), 12)], func(t *testing.T) {
			// The runs there are (ids only: earlier runs move on meanwhile).
			runs := func() string {
				_, _, body := ts.as(t, "admin", "GET", "/api/workflow/search?size=1000", "")
				var res struct {
					Results []struct {
						ID string `json:"workflowId"`
					} `json:"results"`
				}
				if err := json.Unmarshal([]byte(body), &res); err != nil {
					t.Fatal(err)
				}
				ids := make([]string, len(res.Results))
				for i, r := range res.Results {
					ids[i] = r.ID
				}
				sort.Strings(ids)
				return strings.Join(ids, ",")
			}
			// An earlier subtest's start may still be writing its run's
			// first record: wait until the list holds still.
			before := runs()
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
				again := runs()
				if again == before {
					break
				}
				before = again
			}
			st, _, body := ts.as(t, tc.who, tc.method, tc.path, tc.body)
			if st != tc.want {
				t.Fatalf("%d %s, want %d", st, body, tc.want)
			}
			if tc.want != 403 {
				return
			}
			if !strings.Contains(body, `"message":"principal `+tc.who+` lacks scope `+tc.scope+`"`) {
				t.Errorf("answer %s: want it to name %s and %s", body, tc.who, tc.scope)
			}
			time.Sleep(20 * time.Millisecond) // a run started anyway would show by now
			if after := runs(); after != before {
				t.Errorf("a refused start started a run:\n before %s\n after  %s", before, after)
			}
		})
	}
}

// TestMetadataWriteScope: registering, updating and deleting a workflow or
// task definition needs metadata:write:<name>; a list is refused whole
// when one name is not covered; reading definitions is open.
func TestMetadataWriteScope(t *testing.T) {
	ts := newScopedServer(t)
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/taskdefs", `[{"name":"other_task"},{"name":"charge"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	v2 := strings.Replace(guardedDef, `"version":1`, `"version":2`, 1)
	other := strings.Replace(guardedDef, `"guarded"`, `"other"`, 1)
	for _, tc := range []struct {
		name, who, method, path, body string
		want                          int
		scope                         string
	}{
		{"new workflow version", "alice", "POST", "/api/metadata/workflow", v2, 403, "metadata:write:guarded"},
		{"workflow list", "carol", "PUT", "/api/metadata/workflow", "[" + other + "," + v2 + "]", 403, "metadata:write:guarded"},
		{"delete workflow", "bob", "DELETE", "/api/metadata/workflow/guarded/1", "", 403, "metadata:write:guarded"},
		{"task with runtimeMetadata", "carol", "POST", "/api/metadata/taskdefs", `[{"name":"other"},{"name":"charge","runtimeMetadata":["DEPLOY_TOKEN"]}]`, 403, "metadata:write:charge"},
		{"update task", "anonymous", "PUT", "/api/metadata/taskdefs", `{"name":"charge","runtimeMetadata":["DEPLOY_TOKEN"]}`, 403, "metadata:write:charge"},
		{"delete task", "rita", "DELETE", "/api/metadata/taskdefs/charge", "", 403, "metadata:write:charge"},
		{"own name", "carol", "PUT", "/api/metadata/workflow", "[" + other + "]", 200, ""},
		{"own task", "carol", "PUT", "/api/metadata/taskdefs", `{"name":"other","retryCount":1}`, 200, ""},
		{"admin", "admin", "POST", "/api/metadata/workflow", v2, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, wfBefore := ts.as(t, "anonymous", "GET", "/api/metadata/workflow", "")
			_, _, tdBefore := ts.as(t, "anonymous", "GET", "/api/metadata/taskdefs", "")
			st, _, body := ts.as(t, tc.who, tc.method, tc.path, tc.body)
			if st != tc.want {
				t.Fatalf("%d %s, want %d", st, body, tc.want)
			}
			if tc.want != 403 {
				return
			}
			if !strings.Contains(body, `"message":"principal `+tc.who+` lacks scope `+tc.scope+`"`) {
				t.Errorf("answer %s: want it to name %s and %s", body, tc.who, tc.scope)
			}
			st1, _, wfAfter := ts.as(t, "anonymous", "GET", "/api/metadata/workflow", "")
			st2, _, tdAfter := ts.as(t, "anonymous", "GET", "/api/metadata/taskdefs", "")
			if st1 != 200 || st2 != 200 || wfAfter != wfBefore || tdAfter != tdBefore {
				t.Errorf("a refused write changed the definitions (reads %d %d)", st1, st2)
			}
		})
	}
}

// TestSearchScopes: a search shows only the runs the caller may read;
// totalHits counts those, and pages go through them.
func TestSearchScopes(t *testing.T) {
	ts := newScopedServer(t)
	other := strings.Replace(guardedDef, `"guarded"`, `"other"`, 1)
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", other); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	var alices, admins, others []string
	for i := 0; i < 3; i++ {
		_, _, id := ts.as(t, "alice", "POST", "/api/workflow/guarded", `{}`)
		alices = append(alices, id)
		_, _, id = ts.as(t, "admin", "POST", "/api/workflow/guarded", `{}`)
		admins = append(admins, id)
		_, _, id = ts.as(t, "admin", "POST", "/api/workflow/other", `{}`)
		others = append(others, id)
	}
	search := func(who, q string) (int, []string) {
		t.Helper()
		st, _, body := ts.as(t, who, "GET", "/api/workflow/search?"+q, "")
		if st != 200 {
			t.Fatalf("search as %s: %d %s", who, st, body)
		}
		var res struct {
			TotalHits int `json:"totalHits"`
			Results   []struct {
				ID string `json:"workflowId"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range res.Results {
			ids = append(ids, r.ID)
		}
		return res.TotalHits, ids
	}
	set := func(ids ...[]string) string {
		var all []string
		for _, l := range ids {
			all = append(all, l...)
		}
		sort.Strings(all)
		return strings.Join(all, ",")
	}
	for _, tc := range []struct {
		who  string
		want string
	}{
		{"admin", set(alices, admins, others)},
		{"alice", set(alices)},
		{"rita", set(alices, admins)},
		{"bob", set(alices, admins)},
		{"carol", set(others)},
		{"anonymous", ""},
	} {
		total, ids := search(tc.who, "size=100&freeText=*")
		if got := set(ids); got != tc.want || total != len(ids) {
			t.Errorf("%s sees %d: %s, want %s", tc.who, total, got, tc.want)
		}
		// Paging one by one goes through the same runs.
		var paged []string
		for start := 0; start < 12; start++ {
			total, page := search(tc.who, "size=1&sort=startTime:ASC&start="+fmt.Sprint(start))
			if total != len(ids) {
				t.Errorf("%s page %d: totalHits %d, want %d", tc.who, start, total, len(ids))
			}
			paged = append(paged, page...)
		}
		if got := set(paged); got != tc.want {
			t.Errorf("%s paged: %s, want %s", tc.who, got, tc.want)
		}
	}
	// A query on a workflow the caller may not read finds nothing.
	if total, ids := search("carol", "query="+url.QueryEscape("workflowType = 'guarded'")); total != 0 || len(ids) != 0 {
		t.Errorf("carol's query on guarded: %d %v", total, ids)
	}
}

// The forbidden answer is Conductor's error shape.
func TestForbiddenShape(t *testing.T) {
	ts := newScopedServer(t)
	st, ct, body := ts.as(t, "bob", "POST", "/api/workflow/guarded", `{}`)
	var e map[string]any
	if err := json.Unmarshal([]byte(body), &e); err != nil || st != http.StatusForbidden || !strings.HasPrefix(ct, "application/json") ||
		e["status"] != float64(403) || e["message"] != "principal bob lacks scope workflows:start:guarded" || e["retryable"] != false {
		t.Fatalf("%d %s %s", st, ct, body)
	}
}

// The principal names of the CLI and of callers without credentials are
// not given to a key: it would own their runs.
func TestAuthConfigReservedPrincipals(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"applications:\n  - keyId: local\n    keySecret: s-0123456789abcdef\n", `applications[0] (local): principal "local" is reserved`},
		{"applications:\n  - keyId: k\n    keySecret: s-0123456789abcdef\n    principal: anonymous\n", `applications[0] (k): principal "anonymous" is reserved`},
		{"taskclusterClients:\n  - clientId: c\n    accessToken: s-0123456789abcdef\n    principal: local\n", `taskclusterClients[0] (c): principal "local" is reserved`},
	} {
		_, err := server.ParseAuthConfig([]byte(tc.yaml), "auth.yaml")
		if !errors.Is(err, server.ErrAuthConfig) || !strings.Contains(err.Error(), "auth.yaml: "+tc.want) {
			t.Errorf("%q: %v, want %s", tc.yaml, err, tc.want)
		}
	}
}

// TestOrkesJSSDKScopes: the Orkes JavaScript SDK 4.0.0, as rita (may read
// runs of guarded, not start or change them), gets the server's one-line
// refusal for a start and a terminate — at once, without the retries it
// gives a token error — and reads alice's run; the run goes on.
func TestOrkesJSSDKScopes(t *testing.T) {
	sdk := jsSDKDir(t)
	ts := newScopedServer(t)
	id := ts.startGuarded(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/scopes.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=rita",
		"KEY_SECRET=rita-secret-0123456789", "RUN_ID="+id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	type refusal struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
		MS      int    `json:"ms"`
	}
	var got struct {
		Error      string  `json:"error"`
		Start      refusal `json:"start"`
		Terminate  refusal `json:"terminate"`
		ReadStatus string  `json:"readStatus"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	for what, r := range map[string]struct {
		got   refusal
		scope string
	}{"start": {got.Start, "workflows:start:guarded"}, "terminate": {got.Terminate, "workflows:manage:guarded"}} {
		if r.got.OK || !strings.Contains(r.got.Message, "principal rita lacks scope "+r.scope) || r.got.MS > 5000 {
			t.Errorf("%s: %+v, want a refusal naming %s at once", what, r.got, r.scope)
		}
	}
	if got.ReadStatus != "RUNNING" || !strings.HasPrefix(ts.snapshot(t, id), "RUNNING") {
		t.Errorf("rita's read: %q; the run: %s", got.ReadStatus, ts.snapshot(t, id))
	}
}

// TestIdempotencyKeyScopes: a start whose idempotency key a run already
// holds tells the holder's id (RETURN_EXISTING answers it; FAIL names it)
// only to a caller that may read that run; another one gets 409 naming the
// workflow and the key it sent, and nothing is started.
func TestIdempotencyKeyScopes(t *testing.T) {
	ts := newScopedServer(t)
	start := func(who, strategy string) (int, string) {
		t.Helper()
		st, _, body := ts.as(t, who, "POST", "/api/workflow",
			`{"name":"guarded","input":{},"idempotencyKey":"order-7","idempotencyStrategy":"`+strategy+`"}`)
		return st, body
	}
	st, id := start("alice", "RETURN_EXISTING")
	if st != 200 {
		t.Fatalf("first start: %d %s", st, id)
	}
	for _, tc := range []struct {
		who, strategy string
		want          int
		tellsID       bool
	}{
		{"alice", "RETURN_EXISTING", 200, true},
		{"admin", "RETURN_EXISTING", 200, true},
		{"alice", "FAIL", 409, true},
		{"sam", "RETURN_EXISTING", 409, false},
		{"sam", "FAIL", 409, false},
		{"sam", "FAIL_ON_RUNNING", 409, false},
	} {
		st, body := start(tc.who, tc.strategy)
		if st != tc.want || strings.Contains(body, id) != tc.tellsID {
			t.Errorf("%s %s: %d %s, want %d (the holder's id told: %v)", tc.who, tc.strategy, st, body, tc.want, tc.tellsID)
		}
		if !tc.tellsID && !strings.Contains(body, `guarded with idempotencyKey \"order-7\" already exists`) {
			t.Errorf("%s %s: %s, want the workflow and the key named", tc.who, tc.strategy, body)
		}
	}
	_, _, all := ts.as(t, "admin", "GET", "/api/workflow/search?size=100", "")
	if n := strings.Count(all, `"workflowId"`); n != 1 {
		t.Errorf("%d runs after the refused starts, want 1: %s", n, all)
	}
}
