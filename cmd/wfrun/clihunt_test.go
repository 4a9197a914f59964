package main

// A generative leak hunt for the wfrun command line: seeded random
// workflows pass the secrets of internal/leakscan through every task type
// `wfrun run` runs without a network (a local httptest server answers HTTP
// tasks), `--worker NAME=COMMAND` commands that print values and fail, and
// tasks that fail on values; then everything the CLI prints or writes is
// scanned for any form of any value (leakscan.Matcher: raw, JSON escapes,
// URL, HTML, base64 at any alignment, any 8-byte piece).
//
//	go test -count=1 -run 'TestCLILeakHunt' ./cmd/wfrun/
//	CLIHUNT_SEEDS=20 CLIHUNT_N=30 go test -count=1 -run 'TestCLILeakHunt$' ./cmd/wfrun/   (longer)
//
// Surfaces: stdout and stderr of every command (`wfrun run` with -o
// table/json/yaml, `show` of every run in every format, `runs` in every
// format, `restart` of every run that did not complete, `resume`,
// `terminate`, `task complete` and `task skip` of runs that wait, a test
// run (--mocks) with values in its mocks, `eval` without --reveal, `secret
// get/ls/history/tag/exists` without --reveal, `secret export` (the file)
// and `import` of a damaged export, `audit ls` in every format, bad input
// that carries values), what the engine logs through slog and log, the
// --event-sink file, and every file under WFRUN_HOME as raw bytes.
// clihunt_tmux_test.go runs a generated workflow at a real terminal.
//
// Never generated: transformations SECURITY.md says no masker can catch
// (reversed, split, hashed ...), a value pasted into a definition that does
// not name its secret, a value as a correlation id (both documented as kept
// as given).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/leakscan"
)

// cliKnownLeaks are shapes (bad-input probes) that hit a known leak: the
// hunt does not generate them, so that it stays green and keeps hunting.
// Each must be pinned by a failing reproducer and written down in
// SECURITY.md, and must exclude something in every run of TestCLILeakHunt
// (an exclusion that excluded nothing fails the test: remove it once the
// leak is fixed). CLIHUNT_NO_SKIP=1 generates them too. None is known:
// the values typed where a name goes (clihunt_repro_test.go) are withheld.
var cliKnownLeaks = map[string]string{}

var chNoSkip = os.Getenv("CLIHUNT_NO_SKIP") != ""

// chRaceScale is set by clihunt_race_test.go under -race.
var chRaceScale = 1

// ---------------------------------------------------------------- the hunt

type chLeak struct{ surface, secret, form, context string }

// chHunt is one WFRUN_HOME holding the seed's secrets, the directory of
// its definitions, the echo server, and what the hunt found.
type chHunt struct {
	t        *testing.T
	seed     int64
	home     string
	dir      string
	sink     string
	taskDefs string // --taskdefs: the workers' task definitions
	srv      *httptest.Server
	secrets  []leakscan.Secret
	m        *leakscan.Matcher
	logs     chBuffer
	seen     map[string]bool // run ids shown already
	leaks    []chLeak
	checks   map[string]int // surfaces scanned, by kind
	shapes   map[string]int // shapes generated
	excluded map[string]int // known shapes the generator or a probe left out
	statuses map[string]int
	context  string // what is being done (for reports)
}

// chBuffer is a writer safe for concurrent use that can wait for a text.
type chBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *chBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *chBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.b.Bytes()...)
}

func (b *chBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// chWorkers are the --worker commands every run gets (SIMPLE tasks of these
// names). Input JSON (values resolved) on stdin; stdout must be an object.
var chWorkers = []string{
	"lh_echo=cat",
	`lh_wrap=printf '{"got":'; cat; printf ',"n":1}'`,
	`lh_b64=printf '{"b64":"%s"}' "$(base64 | tr -d '\n')"`,
	`lh_fail=printf 'worker refused: ' >&2; cat >&2; exit 3`,
	`lh_failout=cat; cat >&2; exit 1`,
	// stderr is cut at 4 KiB: the input straddles the cut.
	`lh_bigerr1=head -c 4050 /dev/zero | tr '\0' x >&2; cat >&2; exit 2`,
	`lh_bigerr2=head -c 4080 /dev/zero | tr '\0' x >&2; cat >&2; exit 2`,
	`lh_okerr=cat >&2; echo '{"ok":true}'`,
	`lh_notjson=printf 'value: '; cat`,
	// Their task definitions declare secrets (runtimeMetadata): the file
	// $WFRUN_RUNTIME_METADATA names holds the values.
	`lh_meta=printf '{"md":%s}' "$(cat "$WFRUN_RUNTIME_METADATA")"`,
	`lh_metafail=cat "$WFRUN_RUNTIME_METADATA" >&2; exit 4`,
}

func newCHHunt(t *testing.T, seed int64) *chHunt {
	t.Helper()
	h := &chHunt{t: t, seed: seed, home: cliEnv(t), dir: t.TempDir(), seen: map[string]bool{},
		checks: map[string]int{}, shapes: map[string]int{}, excluded: map[string]int{}, statuses: map[string]int{}}
	t.Setenv("WFRUN_OUTPUT", "")
	t.Setenv("NO_COLOR", "")
	h.sink = filepath.Join(h.dir, "sink.jsonl")
	h.taskDefs = t.TempDir()
	var tds []map[string]any
	for _, w := range chWorkers {
		name, _, _ := strings.Cut(w, "=")
		td := map[string]any{"name": name, "retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 30}
		if strings.HasPrefix(name, "lh_meta") {
			td["runtimeMetadata"] = []string{"lh_special", "lh_obj", "lh_multi", "lh_num"}
		}
		tds = append(tds, td)
	}
	tdb, _ := json.Marshal(tds)
	if err := os.WriteFile(filepath.Join(h.taskDefs, "workers.json"), tdb, 0o600); err != nil {
		t.Fatal(err)
	}
	h.srv = chServer()
	t.Cleanup(h.srv.Close)
	rng := rand.New(rand.NewSource(seed))
	h.secrets = leakscan.Secrets(rng)
	// Two secrets the hunt's UPDATE_SECRET tasks write: their old and
	// new values are secrets too.
	for _, name := range []string{"lh_rot", "lh_rot2"} {
		v := leakscan.Value(rng, 1, 20, 30)
		b, _ := json.Marshal(v)
		h.secrets = append(h.secrets, leakscan.Secret{Name: name, Value: b, Needles: []string{v}})
	}
	// The new values UPDATE_SECRET writes (from the run input's _secrets,
	// or from an INLINE's _secrets output).
	for _, name := range []string{"lh_new1", "lh_new2"} {
		v := leakscan.Value(rng, 2, 20, 30)
		b, _ := json.Marshal(v)
		h.secrets = append(h.secrets, leakscan.Secret{Name: name, Value: b, Needles: []string{v}})
	}
	h.m = leakscan.NewMatcher(h.secrets)
	for name, def := range map[string]string{"lh_on_fail.json": chFailureDef, "lh_started.json": chStartedDef} {
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// slog and log output (the engine's warnings) reach a real process's
	// stderr: they are a surface.
	prevSlog, prevLog := slog.Default(), log.Writer()
	slog.SetDefault(slog.New(slog.NewTextHandler(&h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.SetOutput(&h.logs)
	t.Cleanup(func() { slog.SetDefault(prevSlog); log.SetOutput(prevLog) })
	h.context = "secret set"
	for _, s := range h.secrets {
		if strings.HasPrefix(s.Name, "lh_new") {
			continue
		}
		args := []string{"secret", "set", s.Name, "--json", string(s.Value), "--tag", "hunt=cli", "--description", "leak hunt"}
		if rng.Intn(2) == 0 && s.Value[0] == '"' {
			var v string
			_ = json.Unmarshal(s.Value, &v)
			args = []string{"secret", "set", s.Name, "--value", v}
		}
		if _, _, code := h.cli(nil, "", "secret set "+s.Name, args...); code != 0 {
			t.Fatalf("secret set %s: exit %d", s.Name, code)
		}
	}
	return h
}

// chServer: /echo answers 200 with the request (method, URL, headers,
// body) as JSON; /fail answers 500 with the same echo.
func chServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		pad := 0
		_, _ = fmt.Sscan(r.URL.Query().Get("pad"), &pad)
		echo, _ := json.Marshal(map[string]any{"a_pad": strings.Repeat("p", pad), "method": r.Method, "url": r.URL.String(), "headers": r.Header, "body": string(body)})
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write(echo)
	}))
}

// cli runs wfrun in-process through execute (main's path: errors and
// panics reported as main reports them) and scans its stdout and stderr
// as surface "<what> stdout|stderr". ctx nil: a background context.
func (h *chHunt) cli(ctx context.Context, stdin, what string, args ...string) (string, string, int) {
	h.t.Helper()
	if ctx == nil {
		ctx = context.Background()
	}
	var out, errb chBuffer
	t0 := time.Now()
	code := execute(ctx, args, strings.NewReader(stdin), &out, &errb)
	if d := time.Since(t0); d > 150*time.Millisecond && os.Getenv("CLIHUNT_SLOW") != "" {
		h.t.Logf("slow (%v): %s: %s", d.Round(time.Millisecond), what, h.m.Scrub([]byte(strings.Join(args, " "))))
		h.t.Logf("stderr: %s", h.m.Scrub(errb.Bytes()))
	}
	o, e := out.Bytes(), errb.Bytes()
	h.scan(what+" stdout", o)
	h.scan(what+" stderr", e)
	return string(o), string(e), code
}

// cliWatch is cli with stderr watched: once it matches re, stop is called
// (a run cancelled while it waits, as a signal would).
func (h *chHunt) cliWatch(what string, re *regexp.Regexp, args ...string) (string, string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out, errb chBuffer
	done := make(chan int)
	go func() { done <- execute(ctx, args, strings.NewReader(""), &out, &errb) }()
	var code int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case code = <-done:
			break wait
		case <-tick.C:
			if re.Match(errb.Bytes()) {
				cancel()
			}
		}
	}
	o, e := out.Bytes(), errb.Bytes()
	h.scan(what+" stdout", o)
	h.scan(what+" stderr", e)
	return string(o), string(e), code
}

// kind is a surface's kind for the counts: its name without run ids,
// numbers and file names.
var chKindRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f-]{27}|lh_[a-z0-9_]+|\d+`)

func (h *chHunt) scan(surface string, text []byte) {
	h.checks[chKindRe.ReplaceAllString(surface, "#")]++
	at, p := h.m.Find(text)
	if p == nil {
		return
	}
	lo, hi := max(at-120, 0), min(at+len(p.Text)+120, len(text))
	h.leaks = append(h.leaks, chLeak{surface: h.context + ": " + surface, secret: p.Secret, form: p.Form, context: h.m.Scrub(text[lo:hi])})
}

// pick returns one of shapes; a known leak's shape is counted as excluded
// and another is drawn (or "" when none is left).
func (h *chHunt) pick(rng *rand.Rand, shapes ...string) string {
	s := shapes[rng.Intn(len(shapes))]
	if _, known := cliKnownLeaks[s]; known && !chNoSkip {
		h.excluded[s]++
		var ok []string
		for _, o := range shapes {
			if _, k := cliKnownLeaks[o]; !k {
				ok = append(ok, o)
			}
		}
		if len(ok) == 0 {
			return ""
		}
		s = ok[rng.Intn(len(ok))]
	}
	h.shapes[s]++
	return s
}

// probe reports whether a fixed probe's shape may run (a known leak's is
// skipped and counted).
func (h *chHunt) probe(shape string) bool {
	if _, known := cliKnownLeaks[shape]; known && !chNoSkip {
		h.excluded[shape]++
		return false
	}
	h.shapes[shape]++
	return true
}

// runIDs lists every run the store has (-o in turn table, json, yaml; the
// ids from json), scanning the listing.
func (h *chHunt) runIDs(format string) []string {
	out, _, code := h.cli(nil, "", "runs -o "+format, "runs", "--limit", "0", "-o", format)
	if code != 0 {
		h.t.Errorf("runs -o %s: exit %d", format, code)
	}
	if format != "json" {
		out, _, _ = h.cli(nil, "", "runs -o json", "runs", "--limit", "0", "-o", "json")
	}
	var list []struct {
		ID     string `json:"workflowId"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		h.t.Fatalf("runs -o json: %v", err)
	}
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	return ids
}

// showAll shows every run not shown yet (or all, again) in every format.
func (h *chHunt) showAll(again bool, ids []string) {
	for _, id := range ids {
		if h.seen[id] && !again {
			continue
		}
		h.seen[id] = true
		for _, f := range []string{"table", "json", "yaml"} {
			if _, _, code := h.cli(nil, "", "show "+id+" -o "+f, "show", id, "-o", f); code != 0 {
				h.t.Errorf("%s: show %s -o %s: exit %d", h.context, id, f, code)
			}
		}
	}
}

// runStatus is a run's status as `show -o json` has it.
func (h *chHunt) runStatus(id string) string {
	out, _, _ := h.cli(nil, "", "show "+id+" -o json", "show", id, "-o", "json")
	var v struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal([]byte(out), &v)
	return v.Status
}

var chRunIDRe = regexp.MustCompile(`run ([0-9a-f]{8}-[0-9a-f-]{27}) \(`)

// engineArgs are the flags every run, restart and resume gets.
func (h *chHunt) engineArgs() []string {
	args := []string{"--allow-exec", "--definitions", h.dir, "--taskdefs", h.taskDefs, "--event-sink", "file:" + h.sink}
	for _, w := range chWorkers {
		args = append(args, "--worker", w)
	}
	return args
}

// runWorkflow runs one generated definition and every operation on what
// it left, scanning each command's output.
func (h *chHunt) runWorkflow(n int, rng *rand.Rand) {
	g := &chGen{h: h, rng: rng, url: h.srv.URL}
	def := g.definition(fmt.Sprintf("lh_w%d_%d", h.seed, n))
	path := filepath.Join(h.dir, fmt.Sprintf("lh_w%d_%d.json", h.seed, n))
	if err := os.WriteFile(path, def, 0o600); err != nil {
		h.t.Fatal(err)
	}
	h.context = fmt.Sprintf("seed %d workflow %d", h.seed, n)
	args := append([]string{"run", path, "--input", g.input()}, h.engineArgs()...)
	format := []string{"", "json", "yaml"}[rng.Intn(3)]
	if format != "" {
		args = append(args, "-o", format)
	}
	if rng.Intn(4) == 0 {
		args = append(args, "--var", "plainvar=x", "--var", `jsonvar={"a":1}`)
	}
	if rng.Intn(8) == 0 {
		args = append(args, "--quiet")
	}
	if rng.Intn(6) == 0 {
		args = append(args, "--verbose")
		h.shapes["run --verbose"]++
	}
	if rng.Intn(8) == 0 {
		// The scheduler's path: its own summary lines, one JSON line
		// per run.
		args = append(args, "--every", "1ms", "--max-runs", "2")
		h.shapes["run --every"]++
	}
	_, errOut, code := h.cli(nil, "", "run -o "+format, args...)
	h.statuses[fmt.Sprintf("run exit %d", code)]++
	if code == 2 {
		h.t.Errorf("%s: run: exit 2 (the generator made a bad definition): %s", h.context, h.m.Scrub([]byte(errOut)))
	}
	ids := h.runIDs([]string{"table", "json", "yaml"}[n%3])
	h.showAll(false, ids)
	// Every top-level run of this definition that did not complete is
	// restarted (from its failed tasks, or from the start) and shown again.
	for _, m := range chRunIDRe.FindAllStringSubmatch(errOut, -1) {
		id := m[1]
		if h.seen["restarted "+id] {
			continue
		}
		h.seen["restarted "+id] = true
		st := h.runStatus(id)
		h.statuses["run "+st]++
		if st == "COMPLETED" || st == "RUNNING" || st == "" {
			continue
		}
		rargs := append([]string{"restart", id}, h.engineArgs()...)
		if rng.Intn(2) == 0 {
			rargs = append(rargs, "--from-start")
		}
		if rng.Intn(2) == 0 {
			rargs = append(rargs, "-o", "json")
		}
		_, _, rc := h.cli(nil, "", "restart", rargs...)
		h.statuses[fmt.Sprintf("restart exit %d", rc)]++
		h.showAll(true, []string{id})
	}
	h.showAll(false, h.runIDs("json"))
}

// ---------------------------------------------------------------- generator

// chGen makes one definition: a compact cousin of engine/leakhunt_test.go's
// lhGen for what `wfrun run` runs.
type chGen struct {
	h    *chHunt
	rng  *rand.Rand
	url  string
	n    int
	vars int
	refs []string // expressions reading values made from secrets
	// newValue: the run input carries lh_new1 under _secrets (an
	// UPDATE_SECRET writes it).
	newValue bool
}

func (g *chGen) pick(shapes ...string) string { return g.h.pick(g.rng, shapes...) }

func (g *chGen) ref(prefix string) string {
	g.n++
	return fmt.Sprintf("%s_%d", prefix, g.n)
}

// chTemplateSkip reports the secrets a template may not name: lh_bundle
// (EXEC's) and the lh_new ones (not in the store yet).
func chTemplateSkip(n string) bool { return n == "lh_bundle" || strings.HasPrefix(n, "lh_new") }

func (g *chGen) secretRef() string { return leakscan.SecretRef(g.rng, g.h.secrets, chTemplateSkip) }

func (g *chGen) headerRef() string { return leakscan.HeaderRef(g.rng, g.h.secrets, chTemplateSkip) }

func (g *chGen) padLen() int {
	switch g.rng.Intn(3) {
	case 0:
		return g.rng.Intn(40)
	case 1:
		return 200 + g.rng.Intn(80)
	default:
		return 950 + g.rng.Intn(120)
	}
}

// value is an input value carrying a secret (or one made from it).
func (g *chGen) value() any {
	switch r := g.rng.Intn(10); {
	case r < 4:
		return g.secretRef()
	case r < 5:
		return "pre " + g.secretRef() + " post"
	case r < 6:
		return strings.Repeat("x", g.padLen()) + g.secretRef() + strings.Repeat("y", g.rng.Intn(200))
	case r < 8 && len(g.refs) > 0:
		return g.refs[g.rng.Intn(len(g.refs))]
	case r < 9:
		return map[string]any{"a": g.secretRef(), "n": 1, "_secrets": map[string]any{"s": g.secretRef()}}
	default:
		return []any{g.secretRef(), "x"}
	}
}

// task is one task (nested when depth allows).
func (g *chGen) task(depth int) []any {
	top := depth == 0
	r := g.rng.Intn(22)
	if depth >= 2 && r >= 14 {
		r = g.rng.Intn(14)
	}
	switch {
	case r < 3:
		return []any{g.inline(top)}
	case r < 5:
		return []any{g.worker(top)}
	case r < 6:
		return []any{g.jq(top)}
	case r < 7:
		return []any{g.setVariable(top)}
	case r < 9:
		return []any{g.httpTask(top)}
	case r < 10:
		return []any{g.exec(top)}
	case r < 11:
		return []any{g.event()}
	case r < 12:
		return []any{g.wait()}
	case r < 13:
		return []any{g.updateSecret()}
	case r < 14:
		return []any{g.startWorkflow()}
	case r < 16:
		return []any{g.switchTask(depth)}
	case r < 18:
		return []any{g.doWhile(depth)}
	case r < 19:
		return g.fork(depth)
	default:
		return []any{g.subWorkflow(depth)}
	}
}

func (g *chGen) seq(depth, n int) []any {
	var out []any
	for i := 0; i < n; i++ {
		out = append(out, g.task(depth)...)
	}
	return out
}

// variant: a failing shape with probability 0.3 (optional half of the
// time), else a succeeding one.
func (g *chGen) variant(t map[string]any, ok, failing []string) string {
	if len(failing) > 0 && g.rng.Intn(10) < 3 {
		if s := g.pick(failing...); s != "" {
			if g.rng.Intn(2) == 0 {
				t["optional"] = true
			}
			return s
		}
	}
	return g.pick(ok...)
}

func (g *chGen) inline(top bool) map[string]any {
	ref := g.ref("inline")
	in := map[string]any{"evaluatorType": "javascript", "v": g.value()}
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "INLINE", "inputParameters": in}
	exprs := map[string]string{
		"inline:copy":      "$.v",
		"inline:secrets":   "({copy: $.v, _secrets: {x: $.v}, n: 1})",
		"inline:concat":    "'value: ' + $.v + ' end'",
		"inline:stringify": "JSON.stringify({a: $.v})",
		"inline:uri":       "encodeURIComponent(typeof $.v == 'string' ? $.v : JSON.stringify($.v))",
		"inline:throw":     "(function(){ throw new Error('bad value ' + $.v); })()",
		"inline:throwjson": "(function(){ throw JSON.stringify({v: $.v}); })()",
		"inline:parse":     "JSON.parse($.v)",
		"inline:eval":      "eval($.v)",
		"inline:badpath":   "$.v.nope.deeper",
	}
	s := g.variant(t, []string{"inline:copy", "inline:secrets", "inline:concat", "inline:stringify", "inline:uri"},
		[]string{"inline:throw", "inline:throwjson", "inline:parse", "inline:eval", "inline:badpath"})
	in["expression"] = exprs[s]
	if top {
		g.refs = append(g.refs, "${"+ref+".output.result}")
		if s == "inline:secrets" {
			g.refs = append(g.refs, "${"+ref+".output.result._secrets.x}")
		}
	}
	return t
}

// worker is a SIMPLE task run by one of chWorkers.
func (g *chGen) worker(top bool) map[string]any {
	ref := g.ref("w")
	t := map[string]any{"taskReferenceName": ref, "type": "SIMPLE",
		"inputParameters": map[string]any{"v": g.value(), "w": "text " + g.secretRef()}}
	name := g.variant(t, []string{"lh_echo", "lh_wrap", "lh_b64", "lh_okerr", "lh_meta"},
		[]string{"lh_fail", "lh_failout", "lh_bigerr1", "lh_bigerr2", "lh_notjson", "lh_metafail"})
	t["name"] = name
	if g.rng.Intn(4) == 0 {
		t["inputParameters"].(map[string]any)["_secrets"] = map[string]any{"s": g.secretRef()}
	}
	if top && name != "lh_b64" {
		g.refs = append(g.refs, "${"+ref+".output}")
	}
	return t
}

func (g *chGen) jq(top bool) map[string]any {
	ref := g.ref("jq")
	in := map[string]any{"x": g.value()}
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "JSON_JQ_TRANSFORM", "inputParameters": in}
	q := map[string]string{
		"jq:copy": ".x", "jq:secrets": "{copy: .x, _secrets: {y: .x}}", "jq:uri": ".x | tostring | @uri",
		"jq:json": ".x | @json", "jq:html": ".x | tostring | @html", "jq:tostring": "{a: .x} | tostring",
		"jq:base64json": "{a: .x} | tostring | @base64",
		"jq:error":      "error(.x)", "jq:errorcat": `error("bad: " + (.x|tostring))`, "jq:tonumber": ".x | tonumber",
		"jq:fromjson": ".x | fromjson", "jq:index": ".x.foo", "jq:add": ".x + {}",
	}
	s := g.variant(t, []string{"jq:copy", "jq:secrets", "jq:uri", "jq:json", "jq:html", "jq:tostring", "jq:base64json"},
		[]string{"jq:error", "jq:errorcat", "jq:tonumber", "jq:fromjson", "jq:index", "jq:add"})
	in["queryExpression"] = q[s]
	if top {
		g.refs = append(g.refs, "${"+ref+".output.result}")
	}
	return t
}

func (g *chGen) setVariable(top bool) map[string]any {
	ref := g.ref("setvar")
	g.vars++
	name := fmt.Sprintf("var%d", g.vars)
	in := map[string]any{name: g.value()}
	if g.pick("setvar:plain", "setvar:secrets") == "setvar:secrets" {
		in["_secrets"] = map[string]any{name: g.secretRef()}
	}
	if top {
		g.refs = append(g.refs, "${workflow.variables."+name+"}")
	}
	return map[string]any{"name": ref, "taskReferenceName": ref, "type": "SET_VARIABLE", "inputParameters": in}
}

func (g *chGen) httpTask(top bool) map[string]any {
	ref := g.ref("http")
	path := "/echo"
	req := map[string]any{"method": "POST",
		"headers": map[string]any{"X-Secret": g.headerRef(), "Authorization": "Bearer " + g.headerRef()},
		"body":    map[string]any{"a": g.value(), "b": "pre " + g.secretRef()}}
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "HTTP"}
	switch g.variant(t, []string{"http:echo", "http:auth", "http:textbody", "http:secretsbody"}, []string{"http:fail", "http:badheader"}) {
	case "http:auth":
		req["auth"] = map[string]any{"type": "bearer", "secret": []string{"lh_token", "lh_alnum", "lh_special", "lh_unicode"}[g.rng.Intn(4)]}
		delete(req["headers"].(map[string]any), "Authorization")
	case "http:textbody":
		req["body"] = "text " + g.secretRef() + " and " + g.secretRef()
		req["contentType"] = "text/plain"
	case "http:secretsbody":
		req["body"] = map[string]any{"_secrets": map[string]any{"k": g.secretRef()}, "open": g.value()}
	case "http:fail":
		path = fmt.Sprintf("/fail?pad=%d", g.padLen())
	case "http:badheader":
		req["headers"] = map[string]any{"X-Bad": "${workflow.secrets.lh_multi}", "X-Also": g.secretRef()}
	}
	req["uri"] = g.url + path
	if top {
		g.refs = append(g.refs, "${"+ref+".output.response.body}")
	}
	t["inputParameters"] = map[string]any{"http_request": req}
	return t
}

// exec prints values from env, files and the bundle lh_bundle, and fails
// or not.
func (g *chGen) exec(top bool) map[string]any {
	ref := g.ref("exec")
	in := map[string]any{"env": map[string]any{"LH_A": g.value(), "LH_B": g.secretRef()},
		"files": map[string]any{"f.txt": g.value()}}
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "EXEC", "inputParameters": in}
	script := `printf 'a=%s\n' "$LH_A"; cat f.txt; printf 'b: %s\n' "$LH_B" >&2`
	s := g.variant(t, []string{"exec:echo", "exec:bundle"}, []string{"exec:fail", "exec:bundlefail"})
	if strings.Contains(s, "bundle") {
		in["bundles"] = []any{"lh_bundle"}
		script += `; printf 'bv=%s\n' "$LH_BV"; cat b.txt >&2`
	}
	if strings.HasSuffix(s, "fail") {
		script += "; exit 3"
	}
	in["command"] = []any{"sh", "-c", script}
	if top {
		g.refs = append(g.refs, "${"+ref+".output.stdout}")
	}
	return t
}

func (g *chGen) event() map[string]any {
	ref := g.ref("event")
	in := map[string]any{"v": g.value(), "w": "text " + g.secretRef()}
	if g.pick("event:plain", "event:secrets") == "event:secrets" {
		in["_secrets"] = map[string]any{"s": g.secretRef()}
	}
	return map[string]any{"name": ref, "taskReferenceName": ref, "type": "EVENT", "sink": "conductor:lh_queue", "inputParameters": in}
}

func (g *chGen) wait() map[string]any {
	ref := g.ref("wait")
	in := map[string]any{"duration": "5ms"}
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "WAIT", "inputParameters": in}
	switch g.variant(t, []string{"wait:ok"}, []string{"wait:badduration", "wait:baduntil"}) {
	case "wait:badduration":
		in["duration"] = g.secretRef()
	case "wait:baduntil":
		t["inputParameters"] = map[string]any{"until": g.secretRef()}
	}
	return t
}

// updateSecret rotates lh_rot or lh_rot2 to a new value the run input
// brings under _secrets (lh_new1, lh_new2); the old values stay registered.
func (g *chGen) updateSecret() map[string]any {
	ref := g.ref("rotate")
	g.newValue = true
	key, from := "lh_rot", "newtok"
	if g.pick("update:rot", "update:rot2") == "update:rot2" {
		key, from = "lh_rot2", "newtok2"
	}
	return map[string]any{"name": ref, "taskReferenceName": ref, "type": "UPDATE_SECRET",
		"inputParameters": map[string]any{"_secrets": map[string]any{"secretKey": key, "secretValue": "${workflow.input._secrets." + from + "}"}}}
}

func (g *chGen) startWorkflow() map[string]any {
	ref := g.ref("start")
	req := map[string]any{"name": "lh_started", "version": 1, "input": map[string]any{"v": g.value(), "fail": false}}
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "START_WORKFLOW", "inputParameters": map[string]any{"startWorkflow": req}}
	if g.variant(t, []string{"startworkflow:ok"}, []string{"startworkflow:childfails"}) == "startworkflow:childfails" {
		req["input"].(map[string]any)["fail"] = true
	}
	return t
}

func (g *chGen) switchTask(depth int) map[string]any {
	ref := g.ref("switch")
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "SWITCH",
		"inputParameters": map[string]any{"v": g.value()},
		"decisionCases":   map[string]any{"a": g.seq(depth+1, 1), "true": g.seq(depth+1, 1)},
		"defaultCase":     g.seq(depth+1, 1)}
	switch g.variant(t, []string{"switch:valueparam", "switch:jsvalue", "switch:jsbool"}, []string{"switch:jsthrow", "switch:jsparse"}) {
	case "switch:valueparam":
		t["evaluatorType"], t["expression"] = "value-param", "v"
	case "switch:jsvalue":
		t["evaluatorType"], t["expression"] = "javascript", "$.v"
	case "switch:jsbool":
		t["evaluatorType"], t["expression"] = "javascript", "$.v != null && $.v.length > 3 ? 'a' : 'b'"
	case "switch:jsthrow":
		t["evaluatorType"], t["expression"] = "javascript", "(function(){ throw new Error('no case for ' + $.v); })()"
	case "switch:jsparse":
		t["evaluatorType"], t["expression"] = "javascript", "JSON.parse($.v)"
	}
	return t
}

func (g *chGen) doWhile(depth int) map[string]any {
	ref := g.ref("loop")
	t := map[string]any{"name": ref, "taskReferenceName": ref, "type": "DO_WHILE",
		"inputParameters": map[string]any{"v": g.value()}, "loopOver": g.seq(depth+1, 1+g.rng.Intn(2))}
	switch g.variant(t, []string{"dowhile:count", "dowhile:usevalue", "dowhile:items"}, []string{"dowhile:throw", "dowhile:parse"}) {
	case "dowhile:items":
		t["inputParameters"].(map[string]any)["_items"] = []any{g.secretRef(), g.value()}
		t["loopCondition"] = "$." + ref + "['iteration'] < 2"
	case "dowhile:count":
		t["loopCondition"] = "$." + ref + "['iteration'] < 2"
	case "dowhile:usevalue":
		t["loopCondition"] = "$." + ref + "['iteration'] < 2 && String($.v).length > 0"
	case "dowhile:throw":
		t["loopCondition"] = "(function(){ throw new Error('loop on ' + $.v); })()"
	case "dowhile:parse":
		t["loopCondition"] = "JSON.parse($.v)"
	}
	return t
}

func (g *chGen) fork(depth int) []any {
	ref := g.ref("fork")
	b1, b2 := g.seq(depth+1, 1), g.seq(depth+1, 1+g.rng.Intn(2))
	last := func(b []any) string { return b[len(b)-1].(map[string]any)["taskReferenceName"].(string) }
	g.h.shapes["fork"]++
	return []any{
		map[string]any{"name": ref, "taskReferenceName": ref, "type": "FORK_JOIN", "forkTasks": []any{b1, b2}},
		map[string]any{"name": ref + "_join", "taskReferenceName": ref + "_join", "type": "JOIN", "joinOn": []any{last(b1), last(b2)}},
	}
}

func (g *chGen) subWorkflow(depth int) map[string]any {
	ref := g.ref("sub")
	g.h.shapes["subworkflow"]++
	child := map[string]any{"name": "lh_child_" + ref, "version": 1, "schemaVersion": 2,
		"tasks": []any{map[string]any{"name": "c_" + ref, "taskReferenceName": "c_" + ref, "type": "INLINE",
			"inputParameters": map[string]any{"evaluatorType": "javascript", "v": "${workflow.input.v}", "w": g.secretRef(),
				"expression": []string{"$.v + ' ' + $.w", "(function(){ throw new Error('child ' + $.v); })()", "({_secrets: {k: $.w}, c: $.v})"}[g.rng.Intn(3)]}}},
		"outputParameters": map[string]any{"o": "${c_" + ref + ".output.result}", "w": g.secretRef()}}
	if depth < 1 && g.rng.Intn(2) == 0 {
		child["tasks"] = append(child["tasks"].([]any), g.task(2)...)
	}
	if g.rng.Intn(3) == 0 {
		child["failureWorkflow"] = "lh_on_fail"
	}
	return map[string]any{"name": ref, "taskReferenceName": ref, "type": "SUB_WORKFLOW",
		"inputParameters":  map[string]any{"v": g.value()},
		"subWorkflowParam": map[string]any{"name": "lh_child_" + ref, "version": 1, "workflowDefinition": child}}
}

func (g *chGen) terminate() map[string]any {
	ref := g.ref("term")
	g.h.shapes["terminate"]++
	return map[string]any{"name": ref, "taskReferenceName": ref, "type": "TERMINATE",
		"inputParameters": map[string]any{"terminationStatus": []string{"COMPLETED", "FAILED", "TERMINATED"}[g.rng.Intn(3)],
			"terminationReason": "stopped on " + g.secretRef(),
			"workflowOutput":    map[string]any{"x": g.value(), "_secrets": map[string]any{"y": g.secretRef()}}}}
}

func (g *chGen) definition(name string) []byte {
	ts := g.seq(0, 2+g.rng.Intn(4))
	if g.rng.Intn(6) == 0 {
		ts = append(ts, g.terminate())
	}
	def := map[string]any{"name": name, "version": 1, "schemaVersion": 2, "tasks": ts,
		"outputParameters": map[string]any{"out": g.value(), "last": g.value(), "_secrets": map[string]any{"s": g.secretRef()}}}
	if g.rng.Intn(2) == 0 {
		def["failureWorkflow"] = "lh_on_fail"
		g.h.shapes["failureWorkflow"]++
	}
	if g.rng.Intn(3) == 0 {
		def["variables"] = map[string]any{"init": g.secretRef(), "_secrets": map[string]any{"k": g.secretRef()}}
		g.h.shapes["definition variables"]++
	}
	if g.rng.Intn(4) == 0 {
		def["maskedFields"] = []any{"out"}
		g.h.shapes["maskedFields"]++
	}
	chNoRetries(def)
	b, err := json.Marshal(def)
	if err != nil {
		panic(err)
	}
	return b
}

// chNoRetries gives every task but the workers' retryCount 0: Conductor's
// default (3 retries, 60 s apart) would make a failing task wait minutes.
// The workers' task definitions (--taskdefs) retry once at once.
func chNoRetries(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["taskReferenceName"]; ok && v["type"] != "SIMPLE" {
			v["retryCount"] = 0
		}
		for _, c := range v {
			chNoRetries(c)
		}
	case []any:
		for _, c := range v {
			chNoRetries(c)
		}
	}
}

// input is the run's --input: plain, and the new values UPDATE_SECRET
// writes under _secrets.
func (g *chGen) input() string {
	in := map[string]any{"plain": "input"}
	if g.newValue {
		vals := map[string]string{}
		for _, s := range g.h.secrets {
			if strings.HasPrefix(s.Name, "lh_new") {
				var v string
				_ = json.Unmarshal(s.Value, &v)
				vals[s.Name] = v
			}
		}
		in["_secrets"] = map[string]any{"newtok": vals["lh_new1"], "newtok2": vals["lh_new2"]}
	}
	b, _ := json.Marshal(in)
	return string(b)
}

const chFailureDef = `{"name":"lh_on_fail","version":1,"schemaVersion":2,"tasks":[
 {"name":"f_copy","taskReferenceName":"f_copy","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
  "r":"${workflow.input.reason}","w":"${workflow.input.failedWorkflow}","expression":"({reason: $.r, run: $.w})"},"retryCount":0},
 {"name":"lh_echo","taskReferenceName":"f_worker","type":"SIMPLE","inputParameters":{"r":"${workflow.input.reason}"}}],
 "outputParameters":{"reason":"${workflow.input.reason}","copy":"${f_copy.output.result}"}}`

const chStartedDef = `{"name":"lh_started","version":1,"schemaVersion":2,"tasks":[
 {"name":"s_copy","taskReferenceName":"s_copy","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
  "v":"${workflow.input.v}","fail":"${workflow.input.fail}","expression":"(function(){ if ($.fail) throw new Error('started ' + $.v); return {v: $.v}; })()"},"retryCount":0}],
 "outputParameters":{"v":"${s_copy.output.result.v}"}}`

// ---------------------------------------------------------------- the rest

// scanStoreSurfaces: the secret commands without --reveal, the audit
// trail, the event sink, the logs and every file under WFRUN_HOME.
func (h *chHunt) scanStoreSurfaces() {
	h.context = fmt.Sprintf("seed %d store", h.seed)
	for _, f := range []string{"table", "json", "yaml"} {
		for _, s := range h.secrets {
			if strings.HasPrefix(s.Name, "lh_new") {
				continue
			}
			h.cli(nil, "", "secret get -o "+f, "secret", "get", s.Name, "-o", f)
			h.cli(nil, "", "secret history -o "+f, "secret", "history", s.Name, "-o", f)
		}
		h.cli(nil, "", "secret ls -o "+f, "secret", "ls", "-o", f)
		h.cli(nil, "", "secret ls lh_ -o "+f, "secret", "ls", "lh_", "-o", f)
		h.cli(nil, "", "audit ls -o "+f, "audit", "ls", "-o", f)
	}
	h.cli(nil, "", "secret tag", "secret", "tag", "lh_special", "scanned=yes")
	h.cli(nil, "", "secret exists", "secret", "exists", "lh_token")
	h.cli(nil, "", "audit verify", "audit", "verify")
	h.scan("event sink file", mustReadOrEmpty(h.sink))
	h.scan("slog and log output", h.logs.Bytes())
	h.scanFiles(h.home, "WFRUN_HOME")
}

func mustReadOrEmpty(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// scanFiles scans every file under root as raw bytes.
func (h *chHunt) scanFiles(root, label string) {
	files := 0
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			h.t.Errorf("read %s: %v", path, err)
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		h.scan(label+" file "+rel, b)
		files++
		return nil
	})
	if files == 0 {
		h.t.Errorf("no file under %s", root)
	}
}

// report fails t for every leak, quoting scrubbed text only.
func (h *chHunt) report() {
	for _, l := range h.leaks {
		h.t.Errorf("LEAK in %s: secret %s (form %s) in …%s…", l.surface, l.secret, l.form, l.context)
	}
}

func TestCLILeakHunt(t *testing.T) {
	begin := time.Now()
	perSeed := 10 / chRaceScale
	if os.Getenv("CLIHUNT_N") != "" {
		_, _ = fmt.Sscan(os.Getenv("CLIHUNT_N"), &perSeed)
	}
	seeds := []int64{1, 2}
	if n := os.Getenv("CLIHUNT_SEEDS"); n != "" {
		// A longer hunt: CLIHUNT_SEEDS=20 runs seeds 1..20.
		var k int64
		_, _ = fmt.Sscan(n, &k)
		seeds = nil
		for s := int64(1); s <= k; s++ {
			seeds = append(seeds, s)
		}
	}
	if testing.Short() {
		perSeed, seeds = 3, seeds[:1]
	}
	total := map[string]int{}
	shapes := map[string]int{}
	excluded := map[string]int{}
	statuses := map[string]int{}
	surfaces := 0
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			h := newCHHunt(t, seed)
			rng := rand.New(rand.NewSource(seed ^ 0xc11))
			for n := 1; n <= perSeed; n++ {
				h.runWorkflow(n, rng)
			}
			h.waitingRuns(rng)
			h.moreCommands(rng)
			h.badInput(rng)
			h.scanStoreSurfaces()
			h.report()
			for k, v := range h.checks {
				total[k] += v
				surfaces += v
			}
			for k, v := range h.shapes {
				shapes[k] += v
			}
			for k, v := range h.excluded {
				excluded[k] += v
			}
			for k, v := range h.statuses {
				statuses[k] += v
			}
		})
	}
	for shape, where := range cliKnownLeaks {
		if excluded[shape] == 0 && !chNoSkip && !testing.Short() {
			t.Errorf("stale exclusion %q (pinned by %s): it excluded nothing in this run", shape, where)
		}
	}
	t.Logf("%d workflows per seed × %d seeds in %v: %d surfaces scanned; statuses %v", perSeed, len(seeds),
		time.Since(begin).Round(time.Millisecond), surfaces, statuses)
	t.Logf("surfaces by kind: %v", chSorted(total))
	t.Logf("shapes generated: %v", chSorted(shapes))
	t.Logf("known leak shapes excluded: %v", chSorted(excluded))
}

func chSorted(m map[string]int) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}
