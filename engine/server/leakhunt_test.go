package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// The leak hunt (TestLeakHuntServeSweep): a `wfrun serve` over a secret
// store whose raw storage the test reads and a bolt run store whose file
// it reads, six random secrets of awkward shapes (LH_PASTE is the one
// pasted into definitions and handed in as masked run input), and scenarios that
// drive runs through the HTTP API the ways a client can. After each
// scenario (while its run waits and after it ended and was archived)
// every GET endpoint the server serves is read for the scenario's runs,
// tasks, children, failure runs, definitions and task types, together
// with the server's log, the raw secret store, the raw run store file,
// the definitions directory and the answers to bad requests that carry a
// value. A leak is a registered form of a value (SPEC §3) or an 8-byte
// piece of one (raw, JSON-escaped, URL-escaped, HTML-escaped) found in
// any of them; the failure names the scenario, the surface and the text
// around it with each value shown as <secret:NAME>.
//
// Not counted: a poll answer's inputData and runtimeMetadata (a worker is
// handed the values, SPEC §6: the rest of the answer is checked); the
// secrets APIs' reads of a value (GET /api/secrets/{key}, GET
// /api/secrets/v1/secret/{name}: not swept); what SECURITY.md says no
// masker catches (the scenarios do not re-case, split or re-encode
// values in user code) and the definitions a user pasted a value into
// (lhDocumented). What else is known is listed in lhKnownLeaks.

// ---- secrets ----

const lhAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func lhRand(t testing.TB, n int) string {
	var b strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(lhAlnum))))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(lhAlnum[i.Int64()])
	}
	return b.String()
}

// lhInterleave puts two random characters before each fixed piece: no 8
// bytes of a value are fixed text (a piece matching by chance).
func lhInterleave(t testing.TB, pieces ...string) string {
	var b strings.Builder
	for _, p := range pieces {
		b.WriteString(lhRand(t, 2))
		b.WriteString(p)
	}
	b.WriteString(lhRand(t, 2))
	return b.String()
}

type lhSecret struct {
	name  string
	value string          // the value as a task sees it (a JSON secret: its compact text)
	raw   json.RawMessage // the stored JSON value
}

func lhSecrets(t testing.TB) []lhSecret {
	plain := "tok" + lhRand(t, 27)                                                         // 30 bytes
	special := lhInterleave(t, `"`, `\`, `/`, `+`, `=`, `&`, `<`, ` `, `>`, `'`)           // 32 bytes
	uni := lhInterleave(t, "к", "秘", "é", "ß", "ü")                                        // 12 random + 11 = 23 bytes
	multi := "L1" + lhRand(t, 9) + "\n" + "L2" + lhRand(t, 9) + "\n" + "L3" + lhRand(t, 9) // 35 bytes, 3 lines
	obj := `{"u":"` + lhRand(t, 10) + `","p":"` + lhRand(t, 14) + `"}`                     // 39 bytes
	out := []lhSecret{
		{name: "LH_PLAIN", value: plain},
		{name: "LH_SPECIAL", value: special},
		{name: "LH_UNI", value: uni},
		{name: "LH_MULTI", value: multi},
		{name: "LH_JSON", value: obj, raw: json.RawMessage(obj)},
		{name: "LH_PASTE", value: "pst" + lhRand(t, 25)},
	}
	for i := range out {
		if out[i].raw == nil {
			out[i].raw, _ = json.Marshal(out[i].value)
		}
	}
	return out
}

// ---- needles: the forms a value is looked for in ----

type lhNeedles struct {
	windows map[string]string // 8-byte piece -> secret name
	whole   []lhNeedle        // whole encoded forms (base64)
}

type lhNeedle struct{ name, form, text string }

func jsonEsc(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s)
	out := strings.TrimSpace(b.String())
	return out[1 : len(out)-1]
}

// jsonUEsc escapes every non-alphanumeric byte of an ASCII text as \u00XX.
func jsonUEsc(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && !strings.ContainsRune(lhAlnum, r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func b64Forms(v string) []string {
	var out []string
	for j := range 3 {
		if j >= len(v) {
			break
		}
		part := v[j:]
		part = part[:len(part)/3*3]
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			if s := enc.EncodeToString([]byte(part)); len(s) >= 8 {
				out = append(out, s)
			}
		}
	}
	return out
}

// lhEscapes are escapes, whole or cut by a window's edge (`IN\\u003` is
// "IN" and a piece of a twice-escaped '>'), and what they escape.
var lhEscapes = regexp.MustCompile(`\\+u[0-9a-fA-F]{0,4}|\\+[^u]?|%[0-9A-Fa-f]{0,2}|&[#0-9a-zA-Z]*;?`)

// lhRandomEnough: a piece of an encoded value is looked for only when it
// holds at least three letters or digits once its escapes are taken out:
// so each holds random characters of the value, not only escapes. With two,
// a piece such as `\u003cwo` (a value's '<' then "wo") is in every
// `$<workflow…` a task's input shows escaped: a false leak, one run in a
// few hundred. A cut escape counts for nothing either: `IN\\u003` (a
// value's "IN>" escaped twice) is in `LH_PLAIN>` escaped twice.
func lhRandomEnough(w string) bool {
	n := 0
	for _, c := range []byte(lhEscapes.ReplaceAllString(w, "")) {
		if strings.IndexByte(lhAlnum, c) >= 0 {
			n++
		}
	}
	return n >= 3
}

func lhBuildNeedles(secrets []lhSecret) *lhNeedles {
	n := &lhNeedles{windows: map[string]string{}}
	add := func(name, text string) {
		for i := 0; i+8 <= len(text); i++ {
			if w := text[i : i+8]; lhRandomEnough(w) {
				n.windows[w] = name
			}
		}
	}
	for _, s := range secrets {
		texts := []string{s.value}
		if strings.TrimSpace(s.value) != s.value {
			texts = append(texts, strings.TrimSpace(s.value))
		}
		var leaves []string
		var obj map[string]string
		if json.Unmarshal([]byte(s.value), &obj) == nil {
			for _, l := range obj {
				leaves = append(leaves, l)
			}
			// A JSON secret is looked for whole in its forms, and by
			// pieces of its leaves only: a piece of its structure
			// (`t","p":"` where a leaf ends in t) is any document's.
			for _, f := range []string{s.value, jsonEsc(s.value, true), jsonEsc(s.value, false), jsonUEsc(s.value)} {
				n.whole = append(n.whole, lhNeedle{name: s.name, form: "whole", text: f})
			}
			texts = nil
		}
		for _, v := range append(texts, leaves...) {
			e1 := jsonEsc(v, true)
			e1n := jsonEsc(v, false)
			for _, f := range []string{v, e1, e1n, strings.ReplaceAll(e1n, "/", `\/`), jsonUEsc(v),
				jsonEsc(e1, true), jsonEsc(jsonEsc(e1, true), true), jsonEsc(e1n, false), jsonEsc(jsonEsc(e1n, false), false),
				url.QueryEscape(v), url.PathEscape(v), html.EscapeString(v)} {
				add(s.name, f)
			}
			for _, f := range b64Forms(v) {
				n.whole = append(n.whole, lhNeedle{name: s.name, form: "base64", text: f})
			}
			for _, f := range b64Forms(e1) {
				n.whole = append(n.whole, lhNeedle{name: s.name, form: "base64(json)", text: f})
			}
		}
	}
	return n
}

// find returns, per secret name, a redacted excerpt of text around the
// first piece of its value found there (nil when none).
func (n *lhNeedles) find(text string, skip map[string]bool) map[string]string {
	if len(text) < 8 {
		return nil
	}
	type hit struct {
		name       string
		start, end int
	}
	var hits []hit
	for i := 0; i+8 <= len(text); i++ {
		if name, ok := n.windows[text[i:i+8]]; ok && !skip[name] {
			hits = append(hits, hit{name, i, i + 8})
		}
	}
	for _, w := range n.whole {
		if skip[w.name] {
			continue
		}
		for off := 0; ; {
			k := strings.Index(text[off:], w.text)
			if k < 0 {
				break
			}
			hits = append(hits, hit{w.name, off + k, off + k + len(w.text)})
			off += k + 1
		}
	}
	if len(hits) == 0 {
		return nil
	}
	// Redact: each byte a hit covers becomes part of a <secret:NAME> run.
	cover := make([]string, len(text))
	for _, h := range hits {
		for i := h.start; i < h.end; i++ {
			cover[i] = h.name
		}
	}
	out := map[string]string{}
	for _, h := range hits {
		if _, done := out[h.name]; done {
			continue
		}
		lo, hi := max(0, h.start-120), min(len(text), h.end+120)
		for lo > 0 && cover[lo-1] != "" {
			lo--
		}
		for hi < len(text) && cover[hi] != "" {
			hi++
		}
		var b strings.Builder
		for i := lo; i < hi; {
			if cover[i] != "" {
				name := cover[i]
				for i < hi && cover[i] == name {
					i++
				}
				b.WriteString("<secret:" + name + ">")
				continue
			}
			c := text[i]
			if c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&b, "\\x%02x", c)
			} else {
				b.WriteByte(c)
			}
			i++
		}
		out[h.name] = b.String()
	}
	return out
}

// ---- the server ----

type lhServer struct {
	*conductorServer
	raw      *memory.Storage // the secret store's storage, as stored
	runsPath string          // the bolt run store's file
	defsDir  string
}

func newLHServer(t *testing.T, secrets []lhSecret) *lhServer {
	t.Helper()
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	raw := memory.NewStorage()
	st, err := store.NewBarrier(context.Background(), raw, ring, store.WithWhere("leak hunt store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if _, err := st.Put(context.Background(), &store.Secret{Name: s.name, Value: s.raw}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	runsPath := filepath.Join(dir, "runs.db")
	runs, err := runstore.OpenBolt(runsPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runs.Close() })
	defsDir := filepath.Join(dir, "defs")
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	engOpts := []engine.Option{
		engine.WithRunStore(runs),
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}),
	}
	srv, err := server.New(st, server.WithLogger(logger), server.WithConductor(defsDir, engOpts...))
	if err != nil {
		t.Fatal(err)
	}
	hs := serveTest(t, srv)
	return &lhServer{
		conductorServer: &conductorServer{testServer: &testServer{Server: hs, srv: srv, store: st, logs: logs}, runs: runs},
		raw:             raw, runsPath: runsPath, defsDir: defsDir,
	}
}

// ---- the hunt ----

// lhExclusion is one check the sweep does not count, and why.
type lhExclusion struct {
	scenario, surface, secret string // "" scenario/secret: any; surface: a prefix
	why                       string
}

// lhDocumented are surfaces SECURITY.md says keep what they are given:
// a definition "is configuration, trusted and kept as its author wrote
// it: the run store holds each definition a run uses once, under its
// hash, … and `wfrun serve` keeps registered definitions in its
// definitions directory" ("Never paste a value into a definition").
// Only LH_PASTE is pasted into definitions; the views of its runs are
// still swept.
var lhDocumented = []lhExclusion{
	{secret: "LH_PASTE", surface: "GET /api/metadata/", why: "SECURITY.md: a registered definition is kept as its author wrote it"},
	{secret: "LH_PASTE", surface: "definitions directory", why: "SECURITY.md: serve keeps registered definitions in its definitions directory"},
	{secret: "LH_PASTE", surface: "raw run store", why: "SECURITY.md: the run store holds each definition a run uses, under its hash"},
}

// lhKnownLeaks are what this sweep finds that is known: by design (each
// says where that is written down) or an open leak, named. They are
// excluded here, exactly (scenario, surface prefix — run and task ids
// read "ID" —, secret), so the sweep passes and catches anything else; an
// entry that excludes nothing in a whole sweep fails it (a leak since
// fixed: remove its entries). The leaks fixed since the sweep was written
// have their own tests (TestErrorAnswersMaskKnownValues,
// TestPollDataMasksQueueName).
var lhKnownLeaks = func() []lhExclusion {
	var out []lhExclusion
	add := func(why, scenario, secret string, surfaces ...string) {
		for _, s := range surfaces {
			out = append(out, lhExclusion{scenario: scenario, surface: s, secret: secret, why: why})
		}
	}
	// By design, not a leak: an error answer quotes the request's own
	// text masked with the values the server holds (answermask.go,
	// TestErrorAnswersMaskKnownValues), not with values only the runs
	// read from the secret store; masked with those, an answer would tell
	// any caller which text is somebody's secret. So in "bad-requests",
	// where the values are only in the store, the client's text comes back
	// to the client as it sent it.
	const a = "answermask.go: echoes the client's text"
	// Poll data is not among them: with auth off it records a poll's task
	// type and worker id masked with the log masker (pollMasker,
	// TestServeValueAsNamePollDataWarm). Nor are the secrets APIs' errors
	// about a name no secret holds, an invalid one or one the caller may
	// not read: they do not quote it (withholdSecretName,
	// TestServeValueAsNameSecretsAPIAnswer).
	for _, sc := range []string{"bad-requests"} {
		add(a, sc, "LH_PLAIN",
			"bad request: DELETE /api/metadata/taskdefs/<secret:LH_PLAIN> (",
			"bad request: DELETE /api/metadata/workflow/<secret:LH_PLAIN>/1 (",
			"bad request: DELETE /api/workflow/<secret:LH_PLAIN>?reason=",
			"bad request: GET /api/event/handler/<secret:LH_PLAIN> (",
			"bad request: GET /api/metadata/workflow/<secret:LH_PLAIN> (",
			"bad request: GET /api/tasks/<secret:LH_PLAIN> (",
			"bad request: GET /api/workflow/<secret:LH_PLAIN> (",
			"bad request: GET /api/workflow/<secret:LH_PLAIN>/nosuch (",
			"bad request: GET /api/workflow/<secret:LH_PLAIN>/status (",
			"bad request: GET /api/workflow/<secret:LH_PLAIN>/tasks (",
			"bad request: POST /api/tasks (answer 404)",
			"bad request: POST /api/tasks/<secret:LH_PLAIN>/log (",
			"bad request: POST /api/tasks/<secret:LH_PLAIN>/wait/COMPLETED (",
			"bad request: POST /api/tasks/update-v2 (answer 404)",
			"bad request: POST /api/workflow/<secret:LH_PLAIN> (",
			"bad request: POST /api/workflow/<secret:LH_PLAIN>/restart (",
			"bad request: POST /api/workflow/<secret:LH_PLAIN>/retry (",
			"bad request: PUT /api/workflow/<secret:LH_PLAIN>/pause (")
		add(a, sc, "LH_SPECIAL",
			"bad request: GET /api/metadata/taskdefs/<secret:LH_SPECIAL> (",
			"bad request: GET /api/tasks/search-v2?query=workflowId%3D<secret:LH_SPECIAL> (",
			"bad request: GET /api/tasks/search?query=workflowId%3D<secret:LH_SPECIAL> (",
			"bad request: GET /api/workflow/search-by-tasks?query=workflowId%3D<secret:LH_SPECIAL> (",
			"bad request: GET /api/workflow/search-v2?query=workflowId%3D<secret:LH_SPECIAL> (",
			"bad request: GET /api/workflow/search?query=workflowId%3D<secret:LH_SPECIAL> (",
			"bad request: GET /api/workflow/<secret:LH_SPECIAL>?includeTasks=true (",
			"bad request: POST /api/tasks (answer 404)",
			"bad request: POST /api/workflow (answer 404)",
			"bad request: POST /api/workflow/<secret:LH_SPECIAL> (",
			"bad request: POST /api/workflow/bulk/terminate?reason=<secret:LH_PLAIN> (")
		add(a, sc, "LH_UNI",
			"bad request: GET /api/tasks/search-v2?freeText=<secret:LH_PLAIN>&sort=<secret:LH_UNI>%3AASC (",
			"bad request: GET /api/tasks/search?freeText=<secret:LH_PLAIN>&sort=<secret:LH_UNI>%3AASC (",
			"bad request: GET /api/workflow/search-by-tasks?freeText=<secret:LH_PLAIN>&sort=<secret:LH_UNI>%3AASC (",
			"bad request: POST /api/event (answer 400)")
	}
	// The same answers for values only the runs read.
	add(a, "bad-requests", "LH_SPECIAL",
		"bad request: POST /api/metadata/taskdefs (answer 400)",
		"bad request: POST /api/metadata/workflow (answer 400)")
	add(a, "bad-requests", "LH_PLAIN",
		"bad request: POST /api/tasks/ID/<secret:LH_PLAIN>/COMPLETED (")
	// By design (SECURITY.md, "Kept as given"): a running run's stored head
	// keeps the correlationId and the idempotency key as given (masked in
	// views, in the search summaries and at archive).
	add("SECURITY.md: kept as given while the run runs", "run-input-correlation-idempotency", "LH_UNI", "raw run store")
	add("SECURITY.md: kept as given while the run runs", "run-input-correlation-idempotency", "LH_MULTI", "raw run store")
	add("SECURITY.md: kept as given while the run runs", "retry-restart-rerun-terminate", "LH_SPECIAL", "raw run store") // a rerun's correlationId
	return out
}()

type hunt struct {
	t        *testing.T
	ts       *lhServer
	needles  *lhNeedles
	secrets  map[string]string
	scenario string
	phase    string // the scenario's moment ("running", "ended", …)
	// what the sweep reads
	runs      map[string]bool
	tasks     map[string]bool
	wfNames   map[string]bool
	taskTypes map[string]bool
	corrIDs   map[string]bool
	handlers  map[string]bool
	events    map[string]bool
	surfaces  map[string]bool // endpoints (method + route) read at least once
	checks    int
	leaks     int
	excluded  int
	mu        sync.Mutex
}

var lhUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (h *hunt) skipFor(surface string) map[string]bool {
	skip := map[string]bool{}
	for _, list := range [][]lhExclusion{lhDocumented, lhKnownLeaks} {
		for _, e := range list {
			if (e.scenario == "" || e.scenario == h.scenario) && strings.HasPrefix(lhUUID.ReplaceAllString(surface, "ID"), e.surface) {
				skip[e.secret] = true
			}
		}
	}
	return skip
}

// lhKnownLeakSeen marks the entries of lhKnownLeaks that excluded a value
// found: an entry never seen in a whole sweep names a leak since fixed,
// and the sweep fails until it is removed.
var lhKnownLeakSeen = struct {
	sync.Mutex
	seen map[int]bool
}{seen: map[int]bool{}}

func lhNoteKnownLeakSeen(scenario, surface, secret string) {
	lhKnownLeakSeen.Lock()
	defer lhKnownLeakSeen.Unlock()
	for i, e := range lhKnownLeaks {
		if (e.scenario == "" || e.scenario == scenario) && e.secret == secret && strings.HasPrefix(surface, e.surface) {
			lhKnownLeakSeen.seen[i] = true
		}
	}
}

// check looks for every value in text, read from surface.
func (h *hunt) check(surface, text string) {
	h.t.Helper()
	h.mu.Lock()
	h.checks++
	h.mu.Unlock()
	all := h.needles.find(text, nil)
	if len(all) == 0 {
		return
	}
	skip := h.skipFor(surface)
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if skip[name] {
			h.mu.Lock()
			h.excluded++
			h.mu.Unlock()
			lhNoteKnownLeakSeen(h.scenario, lhUUID.ReplaceAllString(surface, "ID"), name)
			continue
		}
		h.mu.Lock()
		h.leaks++
		h.mu.Unlock()
		h.t.Errorf("LEAK scenario %q (%s) surface %q: <secret:%s> found: …%s…", h.scenario, h.phase, surface, name, all[name])
	}
}

// get reads path and checks the answer (any status).
func (h *hunt) get(route, path string) (int, string) {
	h.t.Helper()
	code, _, body := h.ts.do(h.t, "GET", path, "")
	h.surfaces["GET "+route] = true
	h.check("GET "+route+" ("+h.redactPath(path)+")", body)
	return code, body
}

// redactPath shows a path with any value in it redacted.
func (h *hunt) redactPath(p string) string {
	for name, v := range h.secrets {
		for _, f := range []string{v, url.PathEscape(v), url.QueryEscape(v)} {
			p = strings.ReplaceAll(p, f, "<secret:"+name+">")
		}
	}
	return p
}

// send sends a request that carries values (a deliberately bad one, or an
// action) and checks its answer.
func (h *hunt) send(label, method, path, body string, hdr ...string) (int, string) {
	h.t.Helper()
	code, _, resp := h.ts.do(h.t, method, path, body, hdr...)
	h.check(fmt.Sprintf("%s answer %d (%s %s)", label, code, method, h.redactPath(path)), resp)
	return code, resp
}

// noteIDs remembers the run and task ids and names a body shows.
func (h *hunt) noteDoc(body string) {
	var doc map[string]any
	if json.Unmarshal([]byte(body), &doc) != nil {
		return
	}
	if n, ok := doc["workflowName"].(string); ok {
		h.wfNames[n] = true
	}
	if c, ok := doc["correlationId"].(string); ok && c != "" {
		h.corrIDs[c] = true
	}
	ts, _ := doc["tasks"].([]any)
	for _, x := range ts {
		task, _ := x.(map[string]any)
		if id, ok := task["taskId"].(string); ok {
			h.tasks[id] = true
		}
		if tt, ok := task["taskType"].(string); ok {
			h.taskTypes[tt] = true
		}
		if sub, ok := task["subWorkflowId"].(string); ok && sub != "" {
			h.runs[sub] = true
		}
	}
	for _, id := range lhUUID.FindAllString(body, -1) {
		if !h.tasks[id] {
			h.runs[id] = true // tried as a run; a 404 is swept as any answer
		}
	}
}

// sweep reads every GET endpoint for what the scenario made, then the
// log, the raw stores and the definitions directory.
func (h *hunt) sweep(phase string) {
	h.t.Helper()
	h.phase = "sweep " + phase
	defer func() { h.phase = "after sweep " + phase }()
	// Discover: runs (children, failure runs), tasks, names.
	for range 3 {
		ids := make([]string, 0, len(h.runs))
		for id := range h.runs {
			ids = append(ids, id)
		}
		for _, id := range ids {
			_, _, body := h.ts.do(h.t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
			h.noteDoc(body)
		}
	}
	for id := range h.runs {
		h.get("/api/workflow/{id}", "/api/workflow/"+id+"?includeTasks=true")
		h.get("/api/workflow/{id}", "/api/workflow/"+id+"?includeTasks=false")
		h.get("/api/workflow/{id}/status", "/api/workflow/"+id+"/status?includeOutput=true&includeVariables=true")
		h.get("/api/workflow/{id}/tasks", "/api/workflow/"+id+"/tasks?count=100")
	}
	for id := range h.tasks {
		h.get("/api/tasks/{taskId}", "/api/tasks/"+id)
		h.get("/api/tasks/{taskId}/log", "/api/tasks/"+id+"/log")
	}
	for name := range h.wfNames {
		h.get("/api/metadata/workflow/{name}", "/api/metadata/workflow/"+url.PathEscape(name))
		h.get("/api/workflow/running/{name}", "/api/workflow/running/"+url.PathEscape(name))
		for c := range h.corrIDs {
			h.get("/api/workflow/{name}/correlated/{correlationId}",
				"/api/workflow/"+url.PathEscape(name)+"/correlated/"+url.PathEscape(c)+"?includeClosed=true&includeTasks=true")
		}
	}
	for tt := range h.taskTypes {
		h.get("/api/metadata/taskdefs/{name}", "/api/metadata/taskdefs/"+url.PathEscape(tt))
		h.get("/api/tasks/queue/size", "/api/tasks/queue/size?taskType="+url.QueryEscape(tt))
		h.get("/api/tasks/queue/polldata", "/api/tasks/queue/polldata?taskType="+url.QueryEscape(tt))
		h.get("/api/tasks/queue/sizes", "/api/tasks/queue/sizes?taskType="+url.QueryEscape(tt))
	}
	for name := range h.handlers {
		h.get("/api/event/handler/{name}", "/api/event/handler/"+url.PathEscape(name))
		h.get("/api/event/execution/{handler}", "/api/event/execution/"+url.PathEscape(name))
	}
	for ev := range h.events {
		h.get("/api/event/{event}", "/api/event/"+url.PathEscape(ev)+"?activeOnly=false")
		h.get("/api/event/message/{event}", "/api/event/message/"+url.PathEscape(ev))
	}
	for _, p := range [][2]string{
		{"/health", "/health"}, {"/healthz", "/healthz"}, {"/metrics", "/metrics"},
		{"/api/metadata/workflow", "/api/metadata/workflow"},
		{"/api/metadata/taskdefs", "/api/metadata/taskdefs"},
		{"/api/event", "/api/event"},
		{"/api/event/execution", "/api/event/execution"},
		{"/api/event/message", "/api/event/message"},
		{"/api/secrets", "/api/secrets"},
		{"/api/secrets-v2", "/api/secrets-v2"},
		{"/api/secrets/{key}/exists", "/api/secrets/LH_PLAIN/exists"},
		{"/api/secrets/{key}/tags", "/api/secrets/LH_PLAIN/tags"},
		{"/api/secrets/v1/secrets", "/api/secrets/v1/secrets"},
		{"/api/secrets/clearLocalCache", "/api/secrets/clearLocalCache"},
		{"/api/secrets/clearRedisCache", "/api/secrets/clearRedisCache"},
		{"/api/secrets/v1/ping", "/api/secrets/v1/ping"},
		{"/api/secrets/v1/__heartbeat__", "/api/secrets/v1/__heartbeat__"},
		{"/api/secrets/v1/__lbheartbeat__", "/api/secrets/v1/__lbheartbeat__"},
		{"/api/secrets/v1/__version__", "/api/secrets/v1/__version__"},
		{"/api/tasks/queue/sizes", "/api/tasks/queue/sizes"},
		{"/api/tasks/queue/all", "/api/tasks/queue/all"},
		{"/api/tasks/queue/all/verbose", "/api/tasks/queue/all/verbose"},
		{"/api/tasks/queue/polldata/all", "/api/tasks/queue/polldata/all"},
		{"/api/workflow/search", "/api/workflow/search?start=0&size=1000&freeText=*"},
		{"/api/workflow/search-v2", "/api/workflow/search-v2?start=0&size=1000&freeText=*"},
		{"/api/workflow/search-by-tasks", "/api/workflow/search-by-tasks?start=0&size=1000&freeText=*"},
		{"/api/workflow/search-by-tasks-v2", "/api/workflow/search-by-tasks-v2?start=0&size=1000&freeText=*"},
		{"/api/tasks/search", "/api/tasks/search?start=0&size=1000&freeText=*"},
		{"/api/tasks/search-v2", "/api/tasks/search-v2?start=0&size=1000&freeText=*"},
	} {
		h.get(p[0], p[1])
	}
	for _, q := range []string{"status IN (RUNNING,COMPLETED,FAILED,TERMINATED,PAUSED,TIMED_OUT)"} {
		h.get("/api/workflow/search", "/api/workflow/search?size=1000&query="+url.QueryEscape(q))
		h.get("/api/tasks/search", "/api/tasks/search?size=1000&query="+url.QueryEscape(q))
	}
	h.checkLog()
	h.rawStores()
}

// checkLog checks the server's log line by line; a line's surface names
// its message and route ("server log: request GET /api/workflow/{id}").
func (h *hunt) checkLog() {
	h.t.Helper()
	h.surfaces["server log"] = true
	for _, line := range strings.Split(h.ts.logs.String(), "\n") {
		var rec struct{ Msg, Route string }
		_ = json.Unmarshal([]byte(line), &rec)
		surface := "server log: " + rec.Msg
		if rec.Route != "" {
			surface += " " + rec.Route
		}
		h.check(surface, line)
	}
}

func (h *hunt) rawStores() {
	h.t.Helper()
	ctx := context.Background()
	keys, err := h.ts.raw.List(ctx, "", "", 0)
	if err != nil {
		h.t.Fatal(err)
	}
	vals, err := h.ts.raw.Get(ctx, keys...)
	if err != nil {
		h.t.Fatal(err)
	}
	var all bytes.Buffer
	for i, k := range keys {
		all.WriteString(k)
		all.WriteByte('\n')
		all.Write(vals[i])
		all.WriteByte('\n')
	}
	h.check("raw secret store", all.String())
	h.surfaces["raw secret store"] = true
	b, err := os.ReadFile(h.ts.runsPath)
	if err != nil {
		h.t.Fatal(err)
	}
	h.check("raw run store", string(b))
	h.surfaces["raw run store"] = true
	_ = filepath.WalkDir(h.ts.defsDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				h.check("definitions directory "+filepath.Base(p), string(b))
			}
		}
		return nil
	})
	h.surfaces["definitions directory"] = true
}

// ---- scenario helpers ----

func (h *hunt) mustDo(method, path, body string, want int) string {
	h.t.Helper()
	code, _, resp := h.ts.do(h.t, method, path, body)
	h.check(fmt.Sprintf("%s %s answer", method, h.redactPath(path)), resp)
	if code != want {
		h.t.Fatalf("%s %s: %d, want %d: %s", method, h.redactPath(path), code, want, h.redactText(resp))
	}
	return resp
}

func (h *hunt) redactText(s string) string {
	if f := h.needles.find(s, nil); len(f) > 0 {
		return fmt.Sprintf("(holds values: %v)", f)
	}
	return s
}

func (h *hunt) taskDefs(defs string) { h.mustDo("POST", "/api/metadata/taskdefs", defs, 200) }
func (h *hunt) register(def string) {
	h.mustDo("POST", "/api/metadata/workflow?overwrite=true", def, 200)
	var d struct{ Name string }
	_ = json.Unmarshal([]byte(def), &d)
	h.wfNames[d.Name] = true
}

// start starts a run with the StartWorkflowRequest req and returns its id.
func (h *hunt) start(req string) string {
	h.t.Helper()
	id := h.mustDo("POST", "/api/workflow", req, 200)
	h.runs[id] = true
	return id
}

// wait waits until run id has one of the statuses; it returns the run.
func (h *hunt) wait(id string, want ...string) map[string]any {
	h.t.Helper()
	var doc map[string]any
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
		_, _, body := h.ts.do(h.t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
		doc = nil
		_ = json.Unmarshal([]byte(body), &doc)
		for _, w := range want {
			if doc["status"] == w {
				h.noteDoc(body)
				return doc
			}
		}
	}
	h.t.Fatalf("run %s never %v: status %v", id, want, doc["status"])
	return nil
}

// summary logs what run id did (redacted): its status and reason, and
// each task's status and reason, so a scenario shows it exercised what
// it meant to.
func (h *hunt) summary(id string) {
	h.t.Helper()
	_, _, body := h.ts.do(h.t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	var doc struct {
		Name   string           `json:"workflowName"`
		Status string           `json:"status"`
		Reason string           `json:"reasonForIncompletion"`
		Tasks  []map[string]any `json:"tasks"`
	}
	_ = json.Unmarshal([]byte(body), &doc)
	var b strings.Builder
	fmt.Fprintf(&b, "run %s %s %s reason=%.200q", doc.Name, id, doc.Status, doc.Reason)
	for _, task := range doc.Tasks {
		r, _ := task["reasonForIncompletion"].(string)
		fmt.Fprintf(&b, "\n  %v %v %v reason=%.160q", task["referenceTaskName"], task["taskType"], task["status"], r)
	}
	h.t.Log(b.String())
}

// waitTask waits until run id has a task ref in status want.
func (h *hunt) waitTask(id, ref, want string) map[string]any {
	h.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(15 * time.Millisecond) {
		_, _, body := h.ts.do(h.t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
		var doc struct {
			Status string           `json:"status"`
			Tasks  []map[string]any `json:"tasks"`
		}
		_ = json.Unmarshal([]byte(body), &doc)
		for _, task := range doc.Tasks {
			if task["referenceTaskName"] == ref && task["status"] == want {
				h.noteDoc(body)
				return task
			}
		}
	}
	h.t.Fatalf("run %s: task %s never %s", id, ref, want)
	return nil
}

// release completes run id's WAIT task ref through the API (the running
// sweep is done): a WAIT with no duration holds a run for as long as a
// sweep takes, even under -race.
func (h *hunt) release(id, ref string) {
	h.t.Helper()
	h.mustDo("POST", "/api/tasks/"+id+"/"+ref+"/COMPLETED", `{}`, 200)
}

// poll polls one task of type tt as worker w: the answer's inputData and
// runtimeMetadata (the values a worker is handed, SPEC §6) are not
// counted; the rest of it is.
func (h *hunt) poll(tt string) map[string]any {
	h.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		code, _, body := h.ts.do(h.t, "GET", "/api/tasks/poll/batch/"+tt+"?workerid=lh-worker&count=1&timeout=500", "")
		h.surfaces["GET /api/tasks/poll/batch/{type}"] = true
		if code != 200 {
			h.t.Fatalf("poll %s: %d %s", tt, code, h.redactText(body))
		}
		var got []map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			h.t.Fatalf("poll %s: %v", tt, err)
		}
		if len(got) == 0 {
			continue
		}
		task := got[0]
		return h.polled("GET /api/tasks/poll/batch/{type}", tt, task)
	}
	h.t.Fatalf("poll %s: no task", tt)
	return nil
}

// polled checks what a poll answered of task (all but its inputData and
// runtimeMetadata, which hand the worker its values) and notes its type
// and id for the sweep.
func (h *hunt) polled(route, tt string, task map[string]any) map[string]any {
	h.t.Helper()
	rest := map[string]any{}
	for k, v := range task {
		if k != "inputData" && k != "runtimeMetadata" {
			rest[k] = v
		}
	}
	b, _ := json.Marshal(rest)
	h.check(route+" (all but inputData, runtimeMetadata)", string(b))
	h.taskTypes[tt] = true
	if id, ok := task["taskId"].(string); ok {
		h.tasks[id] = true
	}
	return task
}

// pollOne polls one task of type tt with GET /api/tasks/poll/{type} (a
// Task, 204 when none), counted as poll does.
func (h *hunt) pollOne(tt string) map[string]any {
	h.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, _, body := h.ts.do(h.t, "GET", "/api/tasks/poll/"+tt+"?workerid=lh-worker", "")
		h.surfaces["GET /api/tasks/poll/{type}"] = true
		if code == 204 {
			continue
		}
		var task map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &task) != nil {
			h.t.Fatalf("poll %s: %d %s", tt, code, h.redactText(body))
		}
		return h.polled("GET /api/tasks/poll/{type}", tt, task)
	}
	h.t.Fatalf("poll %s: no task", tt)
	return nil
}

// lhEcho answers with the request's headers and body, as JSON, with
// status code.
func lhEcho(t *testing.T, code int) *httptest.Server {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"headers": r.Header, "body": string(body), "query": r.URL.RawQuery,
			"note": "echo of " + r.Header.Get("X-Token")})
	}))
	t.Cleanup(hs.Close)
	return hs
}

// ---- the test ----

type lhScenario struct {
	name string
	run  func(h *hunt)
}

func TestLeakHuntServeSweep(t *testing.T) {
	began := time.Now()
	secrets := lhSecrets(t)
	needles := lhBuildNeedles(secrets)
	values := map[string]string{}
	for _, s := range secrets {
		values[s.name] = s.value
	}
	total := map[string]bool{}
	var checks, scenarios int
	for _, sc := range lhScenarios(secrets) {
		t.Run(sc.name, func(t *testing.T) {
			ts := newLHServer(t, secrets)
			h := &hunt{t: t, ts: ts, needles: needles, secrets: values, scenario: sc.name, phase: "before any sweep",
				runs: map[string]bool{}, tasks: map[string]bool{}, wfNames: map[string]bool{}, taskTypes: map[string]bool{},
				corrIDs: map[string]bool{}, handlers: map[string]bool{}, events: map[string]bool{}, surfaces: map[string]bool{}}
			sc.run(h)
			scenarios++
			checks += h.checks
			for s := range h.surfaces {
				total[s] = true
			}
			t.Logf("scenario %s: %d runs, %d tasks, %d checks over %d surfaces, %d leaks, %d documented/known exclusions",
				sc.name, len(h.runs), len(h.tasks), h.checks, len(h.surfaces), h.leaks, h.excluded)
		})
	}
	if all := len(lhScenarios(secrets)); scenarios == all && !t.Failed() {
		// Every scenario ran: an exclusion that excluded nothing is stale.
		lhKnownLeakSeen.Lock()
		for i, e := range lhKnownLeaks {
			if !lhKnownLeakSeen.seen[i] {
				t.Errorf("lhKnownLeaks entry never seen (fixed? remove it): %s / %s / %s (%s)", e.scenario, e.surface, e.secret, e.why)
			}
		}
		lhKnownLeakSeen.Unlock()
	}
	names := make([]string, 0, len(total))
	for s := range total {
		names = append(names, s)
	}
	sort.Strings(names)
	t.Logf("%d scenarios, %d checks, %d surfaces in %s:\n%s", scenarios, checks, len(names), time.Since(began).Round(time.Millisecond), strings.Join(names, "\n"))
}

// ---- scenarios ----

func lhScenarios(secrets []lhSecret) []lhScenario {
	val := map[string]string{}
	for _, s := range secrets {
		val[s.name] = s.value
	}
	js := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	ref := func(name string) string { return "${workflow.secrets." + name + "}" }
	// allIn references every secret (as task input members).
	allIn := `"plain":"` + ref("LH_PLAIN") + `","special":"` + ref("LH_SPECIAL") + `","uni":"` + ref("LH_UNI") +
		`","multi":"` + ref("LH_MULTI") + `","obj":"` + ref("LH_JSON") + `"`
	return []lhScenario{
		{"http-headers-echo", func(h *hunt) {
			ok, bad := lhEcho(h.t, 200), lhEcho(h.t, 500)
			call := func(refName, uri string, optional bool) string {
				return `{"name":"` + refName + `","taskReferenceName":"` + refName + `","type":"HTTP","optional":` + fmt.Sprint(optional) +
					`,"inputParameters":{"http_request":{"uri":"` + uri + `/echo?k=` + ref("LH_PLAIN") + `","method":"POST",` +
					`"headers":{"X-Token":"` + ref("LH_PLAIN") + `","Authorization":"Bearer ` + ref("LH_SPECIAL") + `","X-Uni":"` + ref("LH_UNI") + `"},` +
					`"body":{"m":"` + ref("LH_MULTI") + `","o":"` + ref("LH_JSON") + `","s":"` + ref("LH_SPECIAL") + `"}}}}`
			}
			h.register(`{"name":"lh_http","version":1,"schemaVersion":2,"tasks":[` + call("ok_call", ok.URL, false) + `,` +
				call("bad_call", bad.URL, true) + `,` + call("bad_call2", bad.URL, false) + `],` +
				`"outputParameters":{"echo":"${ok_call.output.response.body}","bad":"${bad_call.output}"}}`)
			id := h.start(`{"name":"lh_http","version":1,"input":{}}`)
			h.wait(id, "FAILED", "COMPLETED")
			h.summary(id)
			h.sweep("ended")
		}},
		{"inline-jq-errors", func(h *hunt) {
			h.register(`{"name":"lh_eval","version":1,"schemaVersion":2,"tasks":[
			 {"name":"js1","taskReferenceName":"js1","type":"INLINE","optional":true,"inputParameters":{"evaluatorType":"javascript",` + allIn + `,
			   "expression":"(function(){ throw new Error('bad ' + $.plain + ' ' + $.special + ' ' + $.uni + ' ' + $.multi + ' ' + $.obj); })()"}},
			 {"name":"js2","taskReferenceName":"js2","type":"INLINE","optional":true,"inputParameters":{"evaluatorType":"graaljs",` + allIn + `,
			   "expression":"$.plain.nosuch.field"}},
			 {"name":"js3","taskReferenceName":"js3","type":"INLINE","optional":true,"inputParameters":{"evaluatorType":"javascript",` + allIn + `,
			   "expression":"JSON.parse($.special)"}},
			 {"name":"jq1","taskReferenceName":"jq1","type":"JSON_JQ_TRANSFORM","optional":true,"inputParameters":{` + allIn + `,
			   "queryExpression":".plain | tonumber"}},
			 {"name":"jq2","taskReferenceName":"jq2","type":"JSON_JQ_TRANSFORM","optional":true,"inputParameters":{` + allIn + `,
			   "queryExpression":"error(.special + .uni + .multi)"}},
			 {"name":"jq3","taskReferenceName":"jq3","type":"JSON_JQ_TRANSFORM","optional":true,"inputParameters":{` + allIn + `,
			   "queryExpression":".obj.p | tonumber"}},
			 {"name":"jq4","taskReferenceName":"jq4","type":"JSON_JQ_TRANSFORM","inputParameters":{` + allIn + `,
			   "queryExpression":"{a: .plain, b: .special, c: .uni, d: .multi, e: .obj, f: (.obj|tojson), g: (.plain|@base64), h: (.special|@uri), i: (.special|@html), j: (.special|@json)}"}},
			 {"name":"js4","taskReferenceName":"js4","type":"INLINE","inputParameters":{"evaluatorType":"javascript",` + allIn + `,
			   "expression":"(function(){ throw new Error(JSON.stringify({p: $.plain, s: $.special, u: $.uni, m: $.multi, o: $.obj})); })()"}}]}`)
			id := h.start(`{"name":"lh_eval","version":1,"input":{}}`)
			h.wait(id, "FAILED", "COMPLETED")
			h.summary(id)
			h.sweep("ended")
		}},
		{"variables-terminate", func(h *hunt) {
			h.register(`{"name":"lh_vars","version":1,"schemaVersion":2,"tasks":[
			 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{` + allIn + `,"nested":{"deep":["` + ref("LH_SPECIAL") + `"]}}},
			 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{}},
			 {"name":"term","taskReferenceName":"term","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED",
			   "terminationReason":"stopped: ` + ref("LH_PLAIN") + ` / ` + ref("LH_SPECIAL") + ` / ${workflow.variables.uni} / ` + ref("LH_MULTI") + `",
			   "workflowOutput":{"v":"${workflow.variables.plain}","o":"` + ref("LH_JSON") + `","m":"` + ref("LH_MULTI") + `"}}}],
			 "outputParameters":{"vars":"${workflow.variables}"}}`)
			id := h.start(`{"name":"lh_vars","version":1,"input":{}}`)
			h.waitTask(id, "wait", "IN_PROGRESS")
			h.sweep("running")
			h.release(id, "wait")
			h.wait(id, "FAILED", "TERMINATED", "COMPLETED")
			h.summary(id)
			h.sweep("ended")
		}},
		{"secrets-outputs", func(h *hunt) {
			h.register(`{"name":"lh_sec","version":1,"schemaVersion":2,"maskedFields":["v"],"tasks":[
			 {"name":"mk","taskReferenceName":"mk","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","w":"${workflow.input.w}",
			   "expression":"({_secrets: {t: $.v, u: $.w}, echo: 'x' + $.v + 'y', b: $.w})"}},
			 {"name":"use","taskReferenceName":"use","type":"SET_VARIABLE","inputParameters":{"t":"${mk.output._secrets.t}","u":"${mk.output.result._secrets.u}"}},
			 {"name":"jq","taskReferenceName":"jq","type":"JSON_JQ_TRANSFORM","inputParameters":{"t":"${mk.output.result._secrets.t}","queryExpression":"{x: .t, y: (\"<\" + .t + \">\")}"}},
			 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{}}],
			 "outputParameters":{"t":"${mk.output.result._secrets.t}","all":"${mk.output}","vars":"${workflow.variables}"}}`)
			// The value comes from the run's input (maskedFields: sealed
			// when stored): LH_PASTE, a value the server never read as a
			// secret; the INLINE task's _secrets registers it.
			id := h.start(`{"name":"lh_sec","version":1,"input":{"v":` + js(val["LH_PASTE"]) + `}}`)
			h.waitTask(id, "wait", "IN_PROGRESS")
			h.sweep("running")
			h.release(id, "wait")
			h.wait(id, "FAILED", "COMPLETED")
			h.summary(id)
			h.sweep("ended")
		}},
		{"worker", func(h *hunt) { lhWorkerScenario(h, allIn) }},
		{"subworkflow-failureworkflow", func(h *hunt) { lhSubWorkflowScenario(h, allIn) }},
		{"paste-definitions", func(h *hunt) { lhPasteScenario(h, val) }},
		{"run-input-correlation-idempotency", func(h *hunt) { lhInputScenario(h, val) }},
		{"retry-restart-rerun-terminate", func(h *hunt) { lhAgainScenario(h, val) }},
		{"events", func(h *hunt) { lhEventsScenario(h) }},
		{"synchronous-answers", func(h *hunt) { lhSyncScenario(h, val, allIn) }},
		{"bad-requests", func(h *hunt) { lhBadRequests(h, val, allIn) }},
		{"bad-requests-secrets-api", func(h *hunt) {
			// The values also put through the Orkes secrets API: the
			// server itself has handled each one (its masker holds them).
			for _, name := range []string{"LH_PLAIN", "LH_SPECIAL", "LH_UNI", "LH_MULTI", "LH_JSON"} {
				h.mustDo("PUT", "/api/secrets/"+name, lhJS(val[name]), 200)
			}
			lhBadRequests(h, val, allIn)
		}},
	}
}

func lhJS(s string) string { b, _ := json.Marshal(s); return string(b) }

// waitEnded waits until every run the hunt knows that exists has ended.
func (h *hunt) waitEnded() {
	h.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		running := ""
		for id := range h.runs {
			code, _, body := h.ts.do(h.t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
			if code != 200 {
				continue
			}
			h.noteDoc(body)
			var doc struct{ Status string }
			_ = json.Unmarshal([]byte(body), &doc)
			if doc.Status == "RUNNING" || doc.Status == "PAUSED" {
				running = id
			}
		}
		if running == "" {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %s still running", running)
		}
	}
}

// lhWorkerScenario: three SIMPLE tasks (task definitions registered
// through the metadata API, one declaring a secret in runtimeMetadata)
// handed to a "worker" through the API: the first is completed with
// POST /api/tasks with the values in its output and its TaskExecLogs, and
// a log line POSTed to /api/tasks/{taskId}/log; the second is completed by
// reference (POST /api/tasks/{wfId}/{ref}/COMPLETED) with the values in
// its output; the third fails through update-v2 with the values in its
// reasonForIncompletion and output.
func lhWorkerScenario(h *hunt, allIn string) {
	h.taskDefs(`[{"name":"lh_worker","retryCount":0,"responseTimeoutSeconds":60,"ownerEmail":"a@example.com","runtimeMetadata":["LH_MULTI"]},
	 {"name":"lh_worker_ref","retryCount":0,"responseTimeoutSeconds":60,"ownerEmail":"a@example.com"},
	 {"name":"lh_worker_fail","retryCount":0,"responseTimeoutSeconds":60,"ownerEmail":"a@example.com"}]`)
	h.register(`{"name":"lh_work","version":1,"schemaVersion":2,"tasks":[
	 {"name":"lh_worker","taskReferenceName":"w1","type":"SIMPLE","inputParameters":{` + allIn + `,"kept":"$<workflow.secrets.LH_PLAIN>"}},
	 {"name":"lh_worker_ref","taskReferenceName":"w2","type":"SIMPLE","inputParameters":{` + allIn + `,"prev":"${w1.output}"}},
	 {"name":"lh_worker_fail","taskReferenceName":"w3","type":"SIMPLE","inputParameters":{` + allIn + `}}],
	 "outputParameters":{"w1":"${w1.output}","w2":"${w2.output}"}}`)
	id := h.start(`{"name":"lh_work","version":1,"input":{}}`)
	task := h.poll("lh_worker")
	in, _ := json.Marshal(task["inputData"])
	md, _ := json.Marshal(task["runtimeMetadata"])
	// Control: the worker was handed the values, so the hunt sees them.
	if f := h.needles.find(string(in), nil); f["LH_PLAIN"] == "" || f["LH_SPECIAL"] == "" || f["LH_UNI"] == "" || f["LH_MULTI"] == "" || f["LH_JSON"] == "" {
		h.t.Fatalf("control: the polled input should hold every value; found %d of them", len(f))
	}
	if f := h.needles.find(string(md), nil); f["LH_MULTI"] == "" {
		h.t.Errorf("control: runtimeMetadata should hold LH_MULTI")
	}
	taskID, _ := task["taskId"].(string)
	h.sweep("polled")
	// The worker reports the values back, every way it can.
	var plain, special, uni, multi, obj string
	var inData map[string]any
	_ = json.Unmarshal(in, &inData)
	plain, _ = inData["plain"].(string)
	special, _ = inData["special"].(string)
	uni, _ = inData["uni"].(string)
	multi, _ = inData["multi"].(string)
	ob, _ := json.Marshal(inData["obj"])
	obj = string(ob)
	line := "worker saw " + plain + " " + special + " " + uni + " " + multi + " " + obj
	h.mustDo("POST", "/api/tasks/"+taskID+"/log", lhJS(line), 200)
	h.mustDo("POST", "/api/tasks/"+taskID+"/log", line, 200)
	out := map[string]any{"echo": inData, "line": line, "b64": base64.StdEncoding.EncodeToString([]byte(plain)),
		"url": url.QueryEscape(special), "html": html.EscapeString(special), "nested": map[string]any{"j": lhJS(lhJS(special))}}
	res, _ := json.Marshal(map[string]any{"workflowInstanceId": id, "taskId": taskID, "workerId": "lh-worker", "status": "COMPLETED",
		"outputData": out, "logs": []map[string]any{{"log": line}, {"log": "b64 " + base64.StdEncoding.EncodeToString([]byte(special))}}})
	h.mustDo("POST", "/api/tasks", string(res), 200)
	h.waitTask(id, "w2", "SCHEDULED")
	ob2, _ := json.Marshal(map[string]any{"echo": line, "obj": json.RawMessage(obj)})
	h.mustDo("POST", "/api/tasks/"+id+"/w2/COMPLETED?workerid=lh-worker", string(ob2), 200)
	t3 := h.pollOne("lh_worker_fail")
	t3ID, _ := t3["taskId"].(string)
	h.sweep("running")
	res3, _ := json.Marshal(map[string]any{"workflowInstanceId": id, "taskId": t3ID, "workerId": "lh-worker", "status": "FAILED_WITH_TERMINAL_ERROR",
		"reasonForIncompletion": "could not use " + line, "outputData": map[string]any{"err": line}})
	code, _, body := h.ts.do(h.t, "POST", "/api/tasks/update-v2", string(res3))
	h.check("POST /api/tasks/update-v2 answer", body)
	if code != 200 && code != 204 {
		h.t.Fatalf("update-v2: %d %s", code, h.redactText(body))
	}
	h.wait(id, "FAILED", "COMPLETED")
	h.summary(id)
	h.sweep("ended")
}

// lhSubWorkflowScenario: a parent hands every value to a SUB_WORKFLOW
// child as its input; the child sets them as variables and fails in an
// INLINE task whose error holds them; the parent fails and its
// failureWorkflow runs with the parent's failure (reason, ids) as input.
func lhSubWorkflowScenario(h *hunt, allIn string) {
	h.register(`{"name":"lh_child","version":1,"schemaVersion":2,"tasks":[
	 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"fromParent":"${workflow.input}","own":"${workflow.secrets.LH_UNI}"}},
	 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{}},
	 {"name":"boom","taskReferenceName":"boom","type":"INLINE","inputParameters":{"evaluatorType":"javascript","p":"${workflow.input.plain}","s":"${workflow.input.special}","m":"${workflow.input.multi}",
	   "expression":"(function(){ throw new Error('child saw ' + $.p + ' ' + $.s + ' ' + $.m); })()"}}],
	 "outputParameters":{"in":"${workflow.input}"}}`)
	h.register(`{"name":"lh_onfail","version":1,"schemaVersion":2,"tasks":[
	 {"name":"keep","taskReferenceName":"keep","type":"SET_VARIABLE","inputParameters":{"got":"${workflow.input}"}},
	 {"name":"echo","taskReferenceName":"echo","type":"INLINE","inputParameters":{"evaluatorType":"javascript","r":"${workflow.input.reason}",
	   "expression":"(function(){ throw new Error('failure run saw: ' + $.r); })()"}}],
	 "outputParameters":{"in":"${workflow.input}"}}`)
	h.register(`{"name":"lh_parent","version":1,"schemaVersion":2,"failureWorkflow":"lh_onfail","tasks":[
	 {"name":"child","taskReferenceName":"child","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"lh_child","version":1},"inputParameters":{` + allIn + `}}],
	 "outputParameters":{"child":"${child.output}"}}`)
	id := h.start(`{"name":"lh_parent","version":1,"input":{}}`)
	child := h.waitTask(id, "child", "IN_PROGRESS")
	childID, _ := child["subWorkflowId"].(string)
	h.runs[childID] = true
	h.waitTask(childID, "wait", "IN_PROGRESS")
	h.sweep("running")
	h.release(childID, "wait")
	h.wait(id, "FAILED", "COMPLETED")
	h.waitEnded()
	for r := range h.runs {
		if code, _, _ := h.ts.do(h.t, "GET", "/api/workflow/"+r, ""); code == 200 {
			h.summary(r)
		}
	}
	h.sweep("ended")
}

// lhPasteScenario: values pasted into definitions. A workflow definition
// that names LH_PLAIN and holds its value is refused (its answers are
// checked); LH_PASTE, a value the run registers from its masked input
// through an INLINE task's _secrets, is pasted into the registered task
// definition's description and inputTemplate and into the workflow
// definition's description: the run's views must mask it.
func lhPasteScenario(h *hunt, val map[string]string) {
	holds := `{"name":"lh_holds","version":1,"schemaVersion":2,"description":"key ` + strings.Trim(lhJS(val["LH_PLAIN"]), `"`) + `","tasks":[
	 {"name":"s","taskReferenceName":"s","type":"SET_VARIABLE","inputParameters":{"k":"${workflow.secrets.LH_PLAIN}"}}]}`
	for _, r := range [][3]string{
		{"POST", "/api/metadata/workflow", holds},
		{"PUT", "/api/metadata/workflow", "[" + holds + "]"},
		{"POST", "/api/workflow", `{"name":"lh_holds","version":1,"workflowDef":` + holds + `}`},
	} {
		if code, _ := h.send("definition holding a named secret's value", r[0], r[1], r[2]); code != 400 {
			h.t.Errorf("%s %s with a definition holding a value it names: %d, want 400", r[0], r[1], code)
		}
	}
	p := strings.Trim(lhJS(val["LH_PASTE"]), `"`)
	// Run 1: the value pasted into the task definition; the run's input
	// is masked (maskedFields).
	h.taskDefs(`[{"name":"lh_paste_td","retryCount":0,"ownerEmail":"a@example.com","description":"pasted ` + p + `","inputTemplate":{"token":"` + p + `"}}]`)
	h.register(`{"name":"lh_paste","version":1,"schemaVersion":2,"maskedFields":["v"],"tasks":[
	 {"name":"lh_paste_td","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
	 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{}}]}`)
	id := h.start(`{"name":"lh_paste","version":1,"input":{"v":` + lhJS(val["LH_PASTE"]) + `}}`)
	h.waitTask(id, "wait", "IN_PROGRESS")
	h.sweep("running")
	h.release(id, "wait")
	h.wait(id, "COMPLETED", "FAILED")
	h.summary(id)
	// Run 2: the value pasted into the workflow definition's description
	// too (its start refuses masked input that the definition holds, so
	// the input here is plain).
	h.register(`{"name":"lh_paste2","version":1,"schemaVersion":2,"description":"pasted ` + p + `","tasks":[
	 {"name":"lh_paste_td","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}},
	 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{}}]}`)
	id2 := h.start(`{"name":"lh_paste2","version":1,"input":{"v":` + lhJS(val["LH_PASTE"]) + `}}`)
	h.waitTask(id2, "wait", "IN_PROGRESS")
	h.sweep("running 2")
	h.release(id2, "wait")
	h.wait(id2, "COMPLETED", "FAILED")
	h.summary(id2)
	h.sweep("ended")
}

// lhInputScenario: values given as run input (one under maskedFields, one
// plain) by a run that reads both secrets, a correlationId holding a
// value and an idempotency key holding one; the run also gets a variable
// holding a value through POST /api/workflow/{id}/variables.
func lhInputScenario(h *hunt, val map[string]string) {
	h.register(`{"name":"lh_input","version":1,"schemaVersion":2,"maskedFields":["tok"],"tasks":[
	 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"a":"${workflow.secrets.LH_PLAIN}","b":"${workflow.secrets.LH_SPECIAL}","c":"${workflow.secrets.LH_UNI}","d":"${workflow.secrets.LH_JSON}","e":"${workflow.secrets.LH_MULTI}"}},
	 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{}},
	 {"name":"use","taskReferenceName":"use","type":"SET_VARIABLE","inputParameters":{"tok":"${workflow.input.tok}","plain":"${workflow.input.plain}","cid":"${workflow.correlationId}"}}],
	 "outputParameters":{"in":"${workflow.input}","tok":"${workflow.input.tok}","cid":"${workflow.correlationId}"}}`)
	req, _ := json.Marshal(map[string]any{"name": "lh_input", "version": 1,
		"input":         map[string]any{"tok": val["LH_PLAIN"], "plain": val["LH_SPECIAL"]},
		"correlationId": val["LH_UNI"], "idempotencyKey": val["LH_MULTI"], "idempotencyStrategy": "RETURN_EXISTING"})
	id := h.start(string(req))
	h.corrIDs[val["LH_UNI"]] = true
	// The same key again: the answer is the same run.
	if again := h.mustDo("POST", "/api/workflow", string(req), 200); again != id {
		h.t.Errorf("idempotent start: another run")
	}
	h.waitTask(id, "wait", "IN_PROGRESS")
	h.mustDo("POST", "/api/workflow/"+id+"/variables", `{"added":`+lhJS(val["LH_PLAIN"])+`,"obj":`+val["LH_JSON"]+`}`, 200)
	h.sweep("running")
	h.release(id, "wait")
	h.wait(id, "COMPLETED", "FAILED")
	h.summary(id)
	h.sweep("ended")
}

// lhAgainScenario: a run that fails with a value in its error is retried,
// restarted and rerun (with a value in the new input and the new
// correlationId); waiting runs are terminated with a value in the reason
// (DELETE /api/workflow/{id}?reason= and POST …/terminate?reason=), and a
// terminated run is restarted.
func lhAgainScenario(h *hunt, val map[string]string) {
	h.register(`{"name":"lh_again","version":1,"schemaVersion":2,"tasks":[
	 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"x":"${workflow.secrets.LH_PLAIN}","y":"${workflow.input.extra}"}},
	 {"name":"maybe","taskReferenceName":"maybe","type":"INLINE","inputParameters":{"evaluatorType":"javascript","fail":"${workflow.input.fail}","t":"${workflow.secrets.LH_SPECIAL}","u":"${workflow.secrets.LH_UNI}",
	   "expression":"(function(){ if ($.fail) throw new Error('fail ' + $.t + ' ' + $.u); return {ok: $.t}; })()"}}],
	 "outputParameters":{"r":"${maybe.output}","in":"${workflow.input}"}}`)
	h.register(`{"name":"lh_hold","version":1,"schemaVersion":2,"tasks":[
	 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"x":"${workflow.secrets.LH_PLAIN}","y":"${workflow.secrets.LH_SPECIAL}","z":"${workflow.secrets.LH_MULTI}"}},
	 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{"duration":"3600 seconds"}}]}`)
	id := h.start(`{"name":"lh_again","version":1,"input":{"fail":true}}`)
	h.wait(id, "FAILED")
	h.mustDo("POST", "/api/workflow/"+id+"/retry", "", 204)
	h.wait(id, "FAILED")
	h.mustDo("POST", "/api/workflow/"+id+"/restart", "", 204)
	h.wait(id, "FAILED")
	h.sweep("failed thrice")
	rerun, _ := json.Marshal(map[string]any{"workflowInput": map[string]any{"fail": false, "extra": val["LH_PLAIN"]}, "correlationId": val["LH_UNI"]})
	h.mustDo("POST", "/api/workflow/"+id+"/rerun", string(rerun), 200)
	h.corrIDs[val["LH_UNI"]] = true
	h.wait(id, "COMPLETED")
	h.summary(id)
	a := h.start(`{"name":"lh_hold","version":1,"input":{}}`)
	b := h.start(`{"name":"lh_hold","version":1,"input":{}}`)
	h.waitTask(a, "wait", "IN_PROGRESS")
	h.waitTask(b, "wait", "IN_PROGRESS")
	h.sweep("holding")
	h.mustDo("DELETE", "/api/workflow/"+a+"?reason="+url.QueryEscape("stop "+val["LH_PLAIN"]+" "+val["LH_MULTI"]), "", 200)
	h.mustDo("POST", "/api/workflow/"+b+"/terminate?reason="+url.QueryEscape("stop "+val["LH_SPECIAL"]), "", 200)
	h.wait(a, "TERMINATED")
	h.wait(b, "TERMINATED")
	h.summary(a)
	h.summary(b)
	h.sweep("terminated")
	// b rerun from the start with a value in its new correlationId: it
	// waits again.
	rerunB, _ := json.Marshal(map[string]any{"correlationId": val["LH_SPECIAL"]})
	h.mustDo("POST", "/api/workflow/"+b+"/rerun", string(rerunB), 200)
	h.corrIDs[val["LH_SPECIAL"]] = true
	h.waitTask(b, "wait", "IN_PROGRESS")
	h.sweep("rerun waiting")
	h.mustDo("DELETE", "/api/workflow/"+b+"?reason=done", "", 200)
	h.mustDo("POST", "/api/workflow/"+a+"/restart", "", 204)
	h.waitTask(a, "wait", "IN_PROGRESS")
	h.mustDo("DELETE", "/api/workflow/"+a+"/terminate-remove?reason="+url.QueryEscape("gone "+val["LH_SPECIAL"]), "", 200)
	h.sweep("ended")
}

// lhBadRequests: a run reads every secret (so the server has handled
// every value), then requests that carry a value and are refused; each
// answer, and then every surface, is checked.
func lhBadRequests(h *hunt, val map[string]string, allIn string) {
	h.register(`{"name":"lh_bad","version":1,"schemaVersion":2,"tasks":[
	 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{` + allIn + `}},
	 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{"duration":"3600 seconds"}}]}`)
	id := h.start(`{"name":"lh_bad","version":1,"input":{}}`)
	h.waitTask(id, "wait", "IN_PROGRESS")
	var waitID string
	for tid := range h.tasks {
		if code, _, body := h.ts.do(h.t, "GET", "/api/tasks/"+tid, ""); code == 200 && strings.Contains(body, `"referenceTaskName":"wait"`) {
			waitID = tid
		}
	}
	p, sp, u := val["LH_PLAIN"], val["LH_SPECIAL"], val["LH_UNI"]
	pe, spe, ue := url.PathEscape(p), url.PathEscape(sp), url.PathEscape(u)
	qe := url.QueryEscape
	bad := func(method, path, body string) {
		h.t.Helper()
		code, _, resp := h.ts.do(h.t, method, path, body)
		h.check(fmt.Sprintf("bad request: %s %s (answer %d)", method, h.redactPath(path), code), resp)
	}
	bad("POST", "/api/workflow/"+pe, `{}`)
	bad("POST", "/api/workflow/"+spe, `{}`)
	bad("POST", "/api/workflow", `{"name":`+lhJS(sp)+`,"version":1}`)
	bad("POST", "/api/workflow", `{"name":"lh_bad","version":`+lhJS(p)+`}`)
	bad("POST", "/api/workflow", `{"name":"lh_bad","input":`+lhJS(u)+`}`)
	bad("POST", "/api/workflow", `{"name":"lh_bad","input":{"x":`+lhJS(p))
	bad("GET", "/api/workflow/"+pe, "")
	bad("GET", "/api/workflow/"+spe+"?includeTasks=true", "")
	bad("GET", "/api/workflow/"+pe+"/status", "")
	bad("GET", "/api/workflow/"+pe+"/tasks", "")
	bad("GET", "/api/workflow/"+pe+"/nosuch", "")
	bad("GET", "/api/workflow/running/"+ue, "")
	bad("GET", "/api/workflow/"+ue+"/correlated/"+pe, "")
	bad("GET", "/api/metadata/workflow/"+pe, "")
	bad("GET", "/api/metadata/workflow/lh_bad?version="+qe(p), "")
	bad("GET", "/api/metadata/taskdefs/"+spe, "")
	bad("DELETE", "/api/metadata/workflow/"+pe+"/1", "")
	bad("DELETE", "/api/metadata/taskdefs/"+pe, "")
	bad("POST", "/api/metadata/workflow", `{"name":`+lhJS(p))
	bad("POST", "/api/metadata/workflow", `{"name":`+lhJS(sp)+`,"version":1,"tasks":[]}`)
	bad("POST", "/api/metadata/workflow", `{"name":"lh_x","version":1,"schemaVersion":2,"tasks":[{"name":`+lhJS(p)+`,"taskReferenceName":`+lhJS(u)+`,"type":`+lhJS(sp)+`}]}`)
	bad("POST", "/api/metadata/workflow", `{"name":"lh_y","version":1,"schemaVersion":2,"tasks":[{"name":"x","taskReferenceName":"x","type":"SET_VARIABLE","inputParameters":{"a":"${`+strings.Trim(lhJS(p), `"`)+`"}}]}`)
	bad("POST", "/api/metadata/taskdefs", `[{"name":`+lhJS(sp)+`}]`)
	bad("POST", "/api/metadata/taskdefs", `[{"name":"ok","retryCount":`+lhJS(p)+`}]`)
	bad("GET", "/api/tasks/"+pe, "")
	bad("GET", "/api/tasks/"+pe+"/log", "")
	bad("POST", "/api/tasks/"+pe+"/log", lhJS("line "+p))
	bad("POST", "/api/tasks", `{"taskId":`+lhJS(p)+`,"status":`)
	bad("POST", "/api/tasks", `{"taskId":`+lhJS(p)+`,"workflowInstanceId":`+lhJS(sp)+`,"status":"COMPLETED","outputData":{"x":`+lhJS(u)+`}}`)
	bad("POST", "/api/tasks/update-v2", `{"taskId":`+lhJS(p)+`,"workflowInstanceId":`+lhJS(id)+`,"status":"COMPLETED"}`)
	bad("POST", "/api/tasks", `{"taskId":`+lhJS(waitID)+`,"workflowInstanceId":`+lhJS(id)+`,"status":`+lhJS(p)+`}`)
	bad("POST", "/api/tasks", `{"taskId":`+lhJS(waitID)+`,"workflowInstanceId":`+lhJS(id)+`,"status":"COMPLETED","outputData":`+lhJS(sp)+`}`)
	bad("POST", "/api/tasks/"+id+"/"+pe+"/COMPLETED", `{"x":`+lhJS(p)+`}`)
	bad("POST", "/api/tasks/"+id+"/wait/"+pe, `{"x":`+lhJS(p)+`}`)
	bad("POST", "/api/tasks/"+pe+"/wait/COMPLETED", `{"x":1}`)
	bad("POST", "/api/tasks/"+id+"/"+pe+"/signal", `{"x":`+lhJS(p)+`}`)
	bad("GET", "/api/tasks/poll/batch/"+pe+"?workerid="+qe(sp)+"&count=1&timeout=1", "")
	bad("GET", "/api/tasks/poll/batch/lh_x?count="+qe(p), "")
	bad("GET", "/api/tasks/queue/size?taskType="+qe(p), "")
	bad("GET", "/api/tasks/queue/polldata?taskType="+qe(sp), "")
	for _, s := range []string{"/api/workflow/search", "/api/workflow/search-v2", "/api/workflow/search-by-tasks", "/api/tasks/search", "/api/tasks/search-v2"} {
		bad("GET", s+"?query="+qe("workflowId = '"+p+"' AND ("), "")
		bad("GET", s+"?query="+qe("workflowId="+sp), "")
		bad("GET", s+"?freeText="+qe(p)+"&sort="+qe(u+":ASC"), "")
		bad("GET", s+"?size="+qe(p), "")
	}
	bad("POST", "/api/workflow/"+id+"/rerun", `{"reRunFromTaskId":`+lhJS(p)+`}`)
	bad("POST", "/api/workflow/"+id+"/rerun", `{"workflowInput":`+lhJS(sp))
	bad("POST", "/api/workflow/"+pe+"/restart", "")
	bad("POST", "/api/workflow/"+pe+"/retry", "")
	bad("PUT", "/api/workflow/"+pe+"/pause", "")
	bad("PUT", "/api/workflow/"+id+"/skiptask/"+pe, "")
	bad("DELETE", "/api/workflow/"+pe+"?reason="+qe(sp), "")
	bad("POST", "/api/workflow/"+id+"/variables", `{"x":`+lhJS(p))
	bad("POST", "/api/workflow/bulk/terminate?reason="+qe(p), `[`+lhJS(sp)+`]`)
	bad("POST", "/api/event", `{"name":`+lhJS(p)+`,"event":`+lhJS(sp)+`,"actions":[{"action":`+lhJS(u)+`}]}`)
	bad("GET", "/api/event/"+pe, "")
	bad("GET", "/api/event/handler/"+pe, "")
	bad("PUT", "/api/secrets/"+spe, lhJS(p))
	bad("GET", "/api/secrets/"+spe, "")
	bad("GET", "/api/secrets/v1/secret/"+qe(sp), "")
	bad("GET", "/nosuch/"+pe, "")
	bad("POST", "/api/token", `{"keyId":`+lhJS(p)+`,"keySecret":`+lhJS(sp)+`}`)
	h.sweep("after bad requests")
	h.mustDo("DELETE", "/api/workflow/"+id+"?reason=done", "", 200)
	h.wait(id, "TERMINATED")
	h.sweep("ended")
}

// lhEventsScenario: a run's EVENT task publishes a message that holds
// secret references, a `_secrets` subtree and values read through them
// to the server's own queue; an event handler starts a run from it (its
// input taken from the message). Its executions and messages are read.
func lhEventsScenario(h *hunt) {
	h.register(`{"name":"lh_evt_target","version":1,"schemaVersion":2,"tasks":[
	 {"name":"keep","taskReferenceName":"keep","type":"SET_VARIABLE","inputParameters":{"got":"${workflow.input}"}}],
	 "outputParameters":{"in":"${workflow.input}"}}`)
	h.mustDo("POST", "/api/event", `{"name":"lh_handler","event":"conductor:lh_events:lh_sink","active":true,"actions":[
	 {"action":"start_workflow","start_workflow":{"name":"lh_evt_target","version":1,"correlationId":"${cid}","input":{"tok":"${tok}","sp":"${sp}","sec":"${_secrets}","v":"${v}","all":"${$}"}}}]}`, 200)
	h.handlers["lh_handler"] = true
	h.events["conductor:lh_events:lh_sink"] = true
	h.register(`{"name":"lh_events","version":1,"schemaVersion":2,"tasks":[
	 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"v":"${workflow.secrets.LH_UNI}"}},
	 {"name":"pub","taskReferenceName":"pub","type":"EVENT","sink":"conductor:lh_sink","inputParameters":{
	   "tok":"${workflow.secrets.LH_PLAIN}","sp":"${workflow.secrets.LH_SPECIAL}","v":"${workflow.variables.v}","cid":"c-${workflow.variables.v}",
	   "_secrets":{"m":"${workflow.secrets.LH_MULTI}","o":"${workflow.secrets.LH_JSON}"}}}]}`)
	id := h.start(`{"name":"lh_events","version":1,"input":{}}`)
	h.wait(id, "COMPLETED", "FAILED")
	h.summary(id)
	// The run the handler started.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, body := h.ts.do(h.t, "GET", "/api/workflow/search?size=100&query="+url.QueryEscape("workflowType=lh_evt_target"), "")
		if ids := lhUUID.FindAllString(body, -1); len(ids) > 0 {
			for _, x := range ids {
				h.runs[x] = true
			}
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatal("the event handler started no run")
		}
	}
	h.waitEnded()
	for r := range h.runs {
		if code, _, _ := h.ts.do(h.t, "GET", "/api/workflow/"+r, ""); code == 200 {
			h.summary(r)
		}
	}
	h.sweep("ended")
}

// lhSyncScenario: the answers that carry a run (not GETs): Orkes'
// synchronous execute (POST /api/workflow/execute/{name}/{version}, until
// a WAIT and to the end), the synchronous task update (POST
// /api/tasks/{id}/{ref}/{status}/sync) with values in its output, the
// variables update, and the correlated batch (POST
// /api/workflow/correlated/batch, POST /api/workflow/{name}/correlated).
func lhSyncScenario(h *hunt, val map[string]string, allIn string) {
	h.register(`{"name":"lh_sync","version":1,"schemaVersion":2,"tasks":[
	 {"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{` + allIn + `}},
	 {"name":"mk","taskReferenceName":"mk","type":"INLINE","inputParameters":{"evaluatorType":"javascript",` + allIn + `,
	   "expression":"({echo: $.plain + $.special + $.uni + $.multi, o: $.obj, _secrets: {k: $.special}})"}},
	 {"name":"wait","taskReferenceName":"wait","type":"WAIT","inputParameters":{}},
	 {"name":"jq","taskReferenceName":"jq","type":"JSON_JQ_TRANSFORM","inputParameters":{"w":"${wait.output}","k":"${mk.output.result._secrets.k}","queryExpression":"{w: .w, k: .k}"}}],
	 "outputParameters":{"mk":"${mk.output}","jq":"${jq.output}","vars":"${workflow.variables}"}}`)
	req, _ := json.Marshal(map[string]any{"input": map[string]any{}, "correlationId": "lh-corr"})
	code, _, body := h.ts.do(h.t, "POST", "/api/workflow/execute/lh_sync/1?waitUntilTaskRef=wait&waitForSeconds=10", string(req))
	h.surfaces["POST /api/workflow/execute/{name}/{version} answer"] = true
	h.check("POST /api/workflow/execute/{name}/{version} answer", body)
	if code != 200 {
		h.t.Fatalf("execute: %d %s", code, h.redactText(body))
	}
	h.noteDoc(body)
	var run struct{ WorkflowID, TargetWorkflowID string }
	_ = json.Unmarshal([]byte(body), &run)
	id := run.WorkflowID
	if id == "" {
		id = run.TargetWorkflowID
	}
	if id == "" {
		ids := lhUUID.FindAllString(body, 1)
		if len(ids) == 0 {
			h.t.Fatalf("execute answered no run id")
		}
		id = ids[0]
	}
	h.runs[id] = true
	h.corrIDs["lh-corr"] = true
	h.waitTask(id, "wait", "IN_PROGRESS")
	h.mustDo("POST", "/api/workflow/"+id+"/variables", `{"late":`+lhJS(val["LH_MULTI"])+`}`, 200)
	h.sweep("waiting")
	out, _ := json.Marshal(map[string]any{"back": val["LH_PLAIN"], "obj": json.RawMessage(val["LH_JSON"]), "sp": val["LH_SPECIAL"]})
	h.surfaces["POST /api/tasks/{workflowId}/{ref}/{status}/sync answer"] = true
	h.mustDo("POST", "/api/tasks/"+id+"/wait/COMPLETED/sync", string(out), 200)
	h.wait(id, "COMPLETED", "FAILED")
	h.summary(id)
	h.surfaces["POST /api/workflow/correlated/batch answer"] = true
	h.mustDo("POST", "/api/workflow/correlated/batch?includeClosed=true&includeTasks=true", `{"workflowNames":["lh_sync"],"correlationIds":["lh-corr"]}`, 200)
	h.surfaces["POST /api/workflow/{name}/correlated answer"] = true
	h.mustDo("POST", "/api/workflow/lh_sync/correlated?includeClosed=true&includeTasks=true", `["lh-corr"]`, 200)
	// Executed to its end: a second run, its WAIT completed by the update.
	code, _, body = h.ts.do(h.t, "POST", "/api/workflow/execute/lh_sync/1?waitForSeconds=1", string(req))
	h.check("POST /api/workflow/execute/{name}/{version} answer (second)", body)
	h.noteDoc(body)
	h.sweep("ended")
}

// TestLeakHuntNeedlesFindEveryForm: the sweep's detector finds each
// secret in every form it looks for, inside other text, however its
// escapes are cut (lhRandomEnough leaves enough pieces).
func TestLeakHuntNeedlesFindEveryForm(t *testing.T) {
	for range 20 {
		secrets := lhSecrets(t)
		n := lhBuildNeedles(secrets)
		for _, s := range secrets {
			v := s.value
			forms := map[string]string{
				"raw": v, "json": jsonEsc(v, true), "json, no HTML escapes": jsonEsc(v, false), "json \\u": jsonUEsc(v),
				"json twice": jsonEsc(jsonEsc(v, true), true), "query": url.QueryEscape(v), "path": url.PathEscape(v),
				"html": html.EscapeString(v),
			}
			for i, f := range b64Forms(v) {
				forms[fmt.Sprintf("base64 %d", i)] = f
			}
			for form, text := range forms {
				if got := n.find(`{"x":"before `+text+` after"}`, nil); got[s.name] == "" {
					t.Errorf("%s in form %s not found", s.name, form)
				}
			}
		}
	}
}
