package engine_test

// The leak hunt's operations: what happens to a run after it started.
//
// A rotation run (UPDATE_SECRET: lh_rot to what a token endpoint issues,
// kept out of the store by outputFilter; lh_rot2 to the run input's
// _secrets.newtok) crashes (its context cancelled) while a HUMAN waits; the
// HUMAN is completed from another engine with an output and a reason that
// quote values (one brought in under _secrets, and again outside it); a
// third engine over the same stores resumes it; it hands every value, old
// and new, to an echoing HTTP call, LAMBDA, EVENT, START_WORKFLOW and an
// EXEC (env, files, a bundle) that prints them and fails. Its retry is
// refused (SPEC §3: it needs archived _secrets data). A plain run (no
// _secrets, so it can be re-executed) is retried, rerun from a task,
// restarted from the start with its HUMAN failed externally while it runs,
// retried again; a second one is paused, resumed, terminated with a
// reason quoting values, restarted, crashed, its HUMAN failed while no
// process runs it, and resumed. After each operation every surface the
// generated hunt scans (leakhunt_test.go) is scanned again for the seed's
// secrets, both sides of each rotation and the completion's value.
//
//	go test -run TestLeakHuntOps ./engine/

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/leakscan"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// lhOps is one seed's world: a writable secret store holding the seed's
// secrets and the two that get rotated, one run store (spied) and one
// keyring shared by every engine (as processes sharing a store share the
// master key), the event sink's bytes, and what the operations returned.
type lhOps struct {
	h       *lhHunt
	seed    int64
	secrets []leakscan.Secret
	m       *leakscan.Matcher
	sec     *memory.Store
	spy     *lhSpy
	ring    *seal.Keyring
	issue   *httptest.Server // the token endpoint: {"access_token": newHTTP}

	// values the operations quote: the old value of lh_rot, the value
	// the token endpoint issues, the run input's new value of lh_rot2,
	// and a value the external completion brings under _secrets.
	oldRot, newHTTP, oldRot2, newInput, external string

	mu     sync.Mutex
	events []engine.Event
	sink   strings.Builder
	extra  []lhSurface // results and errors of operations
	leaks  []lhLeak
	steps  int
	// trail is each operation's outcome (status, or an error scrubbed)
	// and how long it took, to show the operations did what they say.
	trail []string
	last  time.Time
}

func newLHOps(tb testing.TB, h *lhHunt, seed int64) *lhOps {
	tb.Helper()
	rng := rand.New(rand.NewSource(seed ^ 0x0b5))
	o := &lhOps{h: h, seed: seed, secrets: leakscan.Secrets(rng), sec: memory.New(), spy: &lhSpy{Memory: runstore.NewMemory()},
		ring: keyring(tb.(*testing.T), byte(seed))}
	o.oldRot = "rot-" + leakscan.Value(rng, 1, 20, 30)
	o.newHTTP = "http-" + leakscan.Value(rng, 2, 20, 30)
	o.oldRot2 = "rot2-" + leakscan.Value(rng, 0, 20, 30)
	o.newInput = "input-" + leakscan.Value(rng, 1, 20, 30)
	o.external = "ext-" + leakscan.Value(rng, 1, 20, 30)
	ctx := context.Background()
	for _, s := range o.secrets {
		if _, err := o.sec.Put(ctx, &store.Secret{Name: s.Name, Value: s.Value}); err != nil {
			tb.Fatal(err)
		}
	}
	for name, v := range map[string]string{"lh_rot": o.oldRot, "lh_rot2": o.oldRot2} {
		b, _ := json.Marshal(v)
		if _, err := o.sec.Put(ctx, &store.Secret{Name: name, Value: b}); err != nil {
			tb.Fatal(err)
		}
	}
	all := append([]leakscan.Secret(nil), o.secrets...)
	for name, v := range map[string]string{"lh_rot (old)": o.oldRot, "lh_rot (new, HTTP)": o.newHTTP,
		"lh_rot2 (old)": o.oldRot2, "lh_rot2 (new, input)": o.newInput, "external completion": o.external} {
		all = append(all, leakscan.Secret{Name: name, Needles: []string{v}})
	}
	o.m = leakscan.NewMatcher(all)
	o.issue = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]any{"access_token": o.newHTTP, "expires_in": 3600})
		_, _ = w.Write(b)
	}))
	tb.Cleanup(o.issue.Close)
	return o
}

// engine is one process over the seed's stores. onEvent, if set, sees
// every event after it is recorded.
func (o *lhOps) engine(tb testing.TB, onEvent func(engine.Event)) *engine.Engine {
	tb.Helper()
	reg := tasks.NewDefaultRegistry()
	tasks.RegisterExec(reg)
	e, err := engine.New(
		engine.WithRegistry(reg),
		engine.WithRunStore(o.spy),
		engine.WithKeyring(o.ring),
		engine.WithDefinitionsDir(o.h.dir),
		engine.WithPollInterval(2*time.Millisecond),
		engine.WithMaxLoopIterations(5),
		engine.WithEventSink(engine.NewWriterSink(lockedWriter{&o.mu, &o.sink})),
		engine.WithSecrets(func(p engine.Principal, project, env string) interpolate.SecretSource {
			return store.NewRunView(o.sec, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, env)
		}),
		engine.WithEvents(func(ev engine.Event) {
			o.mu.Lock()
			o.events = append(o.events, ev)
			o.mu.Unlock()
			if onEvent != nil {
				onEvent(ev)
			}
		}),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// note keeps what an operation returned (its Result and error) as a
// surface: a caller prints both.
func (o *lhOps) note(step string, res *engine.Result, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := "ok"
	if res != nil {
		out = res.Status
		if res.FailedTaskRef != "" {
			out += " at " + res.FailedTaskRef
		}
	}
	if err != nil {
		out += " error " + o.m.Scrub([]byte(err.Error()))
	}
	now := time.Now()
	if !o.last.IsZero() {
		out += fmt.Sprintf(" (%v)", now.Sub(o.last).Round(time.Millisecond))
	}
	o.last = now
	o.trail = append(o.trail, step+": "+out)
	if res != nil {
		b, _ := json.Marshal(res)
		o.extra = append(o.extra, lhSurface{step + " Result", b})
	}
	if err != nil {
		o.extra = append(o.extra, lhSurface{step + " error", []byte(err.Error())})
	}
}

// scan scans every surface after step, with e (any engine over the
// stores) reading the runs.
func (o *lhOps) scan(tb testing.TB, e *engine.Engine, step string) {
	tb.Helper()
	o.steps++
	ctx := context.Background()
	var surfaces []lhSurface
	add := func(name string, b []byte) { surfaces = append(surfaces, lhSurface{name, b}) }
	o.mu.Lock()
	for i, ev := range o.events {
		b, _ := json.Marshal(ev)
		add(fmt.Sprintf("Event %d (%s %s %s)", i, ev.Kind, ev.TaskRef, ev.Status), b)
	}
	add("event sink", []byte(o.sink.String()))
	surfaces = append(surfaces, o.extra...)
	o.mu.Unlock()
	o.h.scanRuns(ctx, e, o.spy, add, map[string]int{})
	o.h.logMu.Lock()
	add("logs", append([]byte(nil), o.h.logs.Bytes()...))
	o.h.logMu.Unlock()
	for _, l := range lhFindLeaks(o.m, surfaces, "after "+step+": ") {
		if !o.seen(l) {
			o.leaks = append(o.leaks, l)
		}
	}
}

// seen reports whether the same surface and secret were already reported
// (surfaces are scanned again after each step).
func (o *lhOps) seen(l lhLeak) bool {
	name := l.surface[strings.Index(l.surface, ": ")+2:]
	for _, k := range o.leaks {
		if k.secret == l.secret && k.surface[strings.Index(k.surface, ": ")+2:] == name {
			return true
		}
	}
	return false
}

func (o *lhOps) report(tb testing.TB, def string) {
	tb.Helper()
	if len(o.leaks) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ops seed %d: %d leak(s)\n", o.seed, len(o.leaks))
	for _, l := range o.leaks {
		fmt.Fprintf(&b, "  surface %q: secret %s (form %s) in …%s…\n", l.surface, l.secret, l.form, l.context)
	}
	fmt.Fprintf(&b, "  definition: %s\n", o.m.Scrub([]byte(def)))
	tb.Error(b.String())
}

// opsDef is the workflow the operations work on: it reads lh_rot before
// rotating it, rotates lh_rot to what the token endpoint issues (through
// outputFilter, as the rotation template does) and lh_rot2 to the run
// input's _secrets.newtok, waits for a HUMAN, then hands every value (the
// old ones, the new ones, what the HUMAN's completion brought) to an
// echoing HTTP call, LAMBDA, EVENT, START_WORKFLOW and an EXEC that prints
// them and fails: the run ends FAILED at its last task.
func (o *lhOps) def() string {
	g := &lhGen{rng: rand.New(rand.NewSource(o.seed)), url: o.h.srv.URL, secrets: o.secrets, shapes: map[string]int{}}
	values := map[string]any{
		"old":      "${pre.output.result._secrets.old}",
		"oldPlain": "${pre.output.result.copy}",
		"new":      "${workflow.secrets.lh_rot}",
		"new2":     "${workflow.secrets.lh_rot2}",
		"issued":   "${issue.output._secrets.token}",
		"note":     "${human.output.note}",
		"ext":      "${human.output._secrets.k}",
		"extOpen":  "${human.output.again}",
		"some":     g.value(),
	}
	def := map[string]any{"name": fmt.Sprintf("lh_ops_%d", o.seed), "version": 1, "schemaVersion": 2,
		"tasks": []any{
			map[string]any{"name": "pre", "taskReferenceName": "pre", "type": "INLINE", "inputParameters": map[string]any{
				"evaluatorType": "javascript", "v": "${workflow.secrets.lh_rot}", "w": g.secretRef(), "p": "${workflow.secrets.lh_obj.pass}",
				"expression": "({_secrets: {old: $.v}, copy: 'old ' + $.v, w: $.w, p: $.p})"}},
			map[string]any{"name": "issue", "taskReferenceName": "issue", "type": "HTTP", "inputParameters": map[string]any{
				"http_request": map[string]any{"uri": o.issue.URL + "/token", "method": "POST",
					"headers": map[string]any{"Authorization": "Bearer ${workflow.secrets.lh_rot}"}},
				"outputFilter": map[string]any{"_secrets": map[string]any{"token": "$${issue.output.response.body.access_token}"},
					"expires": "$${issue.output.response.body.expires_in}"}}},
			map[string]any{"name": "rotate", "taskReferenceName": "rotate", "type": "UPDATE_SECRET", "inputParameters": map[string]any{
				"_secrets": map[string]any{"secretKey": "lh_rot", "secretValue": "${issue.output._secrets.token}"}}},
			map[string]any{"name": "rotate_in", "taskReferenceName": "rotate_in", "type": "UPDATE_SECRET", "inputParameters": map[string]any{
				"_secrets": map[string]any{"secretKey": "lh_rot2", "secretValue": "${workflow.input._secrets.newtok}"}}},
			map[string]any{"name": "human", "taskReferenceName": "human", "type": "HUMAN", "inputParameters": map[string]any{
				"ask": "approve use of ${workflow.secrets.lh_rot}", "v": g.value()}},
			map[string]any{"name": "echo", "taskReferenceName": "echo", "type": "HTTP", "inputParameters": map[string]any{
				"http_request": map[string]any{"uri": o.h.srv.URL + "/echo", "method": "POST", "body": values,
					"headers": map[string]any{"X-Secret": "${workflow.secrets.lh_rot}"}}}},
			map[string]any{"name": "lambda", "taskReferenceName": "lambda", "type": "LAMBDA", "inputParameters": map[string]any{
				"v": values, "scriptExpression": "return {all: JSON.stringify($.v), old: $.v.old, ext: $.v.ext};"}},
			map[string]any{"name": "event", "taskReferenceName": "event", "type": "EVENT", "sink": "conductor:lh_ops",
				"inputParameters": map[string]any{"v": values, "again": "${lambda.output.result}"}},
			map[string]any{"name": "start", "taskReferenceName": "start", "type": "START_WORKFLOW", "inputParameters": map[string]any{
				"startWorkflow": map[string]any{"name": "lh_started", "version": 1, "input": map[string]any{"v": values}}}},
			map[string]any{"name": "use", "taskReferenceName": "use", "type": "EXEC", "inputParameters": map[string]any{
				"env": map[string]any{"OLD": "${pre.output.result._secrets.old}", "NEW": "${workflow.secrets.lh_rot}",
					"NEW2": "${workflow.secrets.lh_rot2}", "EXT": "${human.output._secrets.k}", "NOTE": "${human.output.note}"},
				"files":   map[string]any{"all.json": values},
				"bundles": []any{"lh_bundle"},
				"command": []any{"sh", "-c", `printf 'old=%s new=%s new2=%s\n' "$OLD" "$NEW" "$NEW2"; printf 'ext=%s note=%s bv=%s\n' "$EXT" "$NOTE" "$LH_BV" >&2; cat all.json b.txt; cat b.txt >&2; exit 4`}}},
		},
		"outputParameters": map[string]any{"issued": "${issue.output}", "lambda": "${lambda.output.result}", "stdout": "${use.output.stdout}"},
	}
	b, err := json.Marshal(def)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// quote is operator text quoting values the run used: the rotated-out
// value (first: the seed's first run; later runs start after the first
// rotated lh_rot and never see its old value), the new ones, a field of a
// secret the definition names and the external completion's value (once
// a completion brought it). A value the run never used is not quoted:
// the masker knows the values of its run (SECURITY.md, "What is masked":
// "Every value a run uses is registered").
func (o *lhOps) quote(what string, first, ext bool) string {
	q := fmt.Sprintf("%s: new %s, input %s, pass %s", what, o.newHTTP, o.newInput, o.secrets[6].Needles[1])
	if first {
		q += ", old " + o.oldRot
	}
	if ext {
		q += ", ext " + o.external
	}
	return q
}

// completion is the HUMAN's external completion: an output quoting values
// (one brought under _secrets, and again outside it) and a reason quoting
// them.
func (o *lhOps) completion(status string, first bool) engine.Completion {
	out, _ := json.Marshal(map[string]any{"by": "dana", "note": o.quote("note", first, true), "_secrets": map[string]any{"k": o.external},
		"again": "ext " + o.external})
	return engine.Completion{Ref: "human", Status: status, Output: out, Reason: o.quote("reason", first, true)}
}

// taskID is the id of ref's latest record in run id's view.
func lhTaskID(tb testing.TB, e *engine.Engine, id, ref string) string {
	tb.Helper()
	view, err := e.Show(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	var v struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
			Ref    string `json:"referenceTaskName"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(view, &v); err != nil {
		tb.Fatal(err)
	}
	got := ""
	for _, t := range v.Tasks {
		if t.Ref == ref {
			got = t.TaskID
		}
	}
	if got == "" {
		tb.Fatalf("no task %s in run %s", ref, id)
	}
	return got
}

// plainDef is the workflow the re-executions work on: opsDef without any
// _secrets (so that archiving leaves what a retry, rerun or restart needs:
// SPEC §3 refuses to re-execute a run that needs archived _secrets data),
// its values from secret references (the current value of both rotated
// secrets and a field of lh_obj) and from the HUMAN's completion.
func (o *lhOps) plainDef() string {
	values := map[string]any{
		"rot":  "${workflow.secrets.lh_rot}",
		"rot2": "pre ${workflow.secrets.lh_rot2} post",
		"pass": "${workflow.secrets.lh_obj.pass}",
		"some": "${workflow.secrets." + []string{"lh_alnum", "lh_special", "lh_unicode", "lh_token", "lh_multi", "lh_num"}[o.seed%6] + "}",
		"note": "${human.output.note}",
	}
	def := map[string]any{"name": fmt.Sprintf("lh_ops_plain_%d", o.seed), "version": 1, "schemaVersion": 2,
		"tasks": []any{
			map[string]any{"name": "pre", "taskReferenceName": "pre", "type": "INLINE", "inputParameters": map[string]any{
				"evaluatorType": "javascript", "v": values["rot"], "expression": "'pre ' + $.v"}},
			map[string]any{"name": "human", "taskReferenceName": "human", "type": "HUMAN", "inputParameters": map[string]any{
				"ask": "approve use of ${workflow.secrets.lh_rot}"}},
			map[string]any{"name": "echo", "taskReferenceName": "echo", "type": "HTTP", "inputParameters": map[string]any{
				"http_request": map[string]any{"uri": o.h.srv.URL + "/echo", "method": "POST", "body": values,
					"headers": map[string]any{"X-Secret": "${workflow.secrets.lh_rot}"}}}},
			map[string]any{"name": "lambda", "taskReferenceName": "lambda", "type": "LAMBDA", "inputParameters": map[string]any{
				"v": values, "scriptExpression": "return {all: JSON.stringify($.v), note: $.v.note};"}},
			map[string]any{"name": "event", "taskReferenceName": "event", "type": "EVENT", "sink": "conductor:lh_ops",
				"inputParameters": map[string]any{"v": values, "again": "${lambda.output.result}"}},
			map[string]any{"name": "start", "taskReferenceName": "start", "type": "START_WORKFLOW", "inputParameters": map[string]any{
				"startWorkflow": map[string]any{"name": "lh_started", "version": 1, "input": map[string]any{"v": values}}}},
			map[string]any{"name": "use", "taskReferenceName": "use", "type": "EXEC", "inputParameters": map[string]any{
				"env":     map[string]any{"ROT": values["rot"], "ROT2": values["rot2"], "NOTE": values["note"], "PASS": values["pass"]},
				"files":   map[string]any{"all.json": values},
				"bundles": []any{"lh_bundle"},
				"command": []any{"sh", "-c", `printf 'rot=%s rot2=%s\n' "$ROT" "$ROT2"; printf 'note=%s pass=%s bv=%s\n' "$NOTE" "$PASS" "$LH_BV" >&2; cat all.json b.txt; cat b.txt >&2; exit 4`}}},
		},
		"outputParameters": map[string]any{"lambda": "${lambda.output.result}", "stdout": "${use.output.stdout}", "stderr": "${use.output.stderr}"},
	}
	b, err := json.Marshal(def)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// plainQuote is operator text quoting the values a plainDef run uses.
func (o *lhOps) plainQuote(what string) string {
	return fmt.Sprintf("%s: rot %s, rot2 %s, pass %s", what, o.newHTTP, o.newInput, o.secrets[6].Needles[1])
}

// plainCompletion completes or fails a plainDef run's HUMAN with an
// output and reason quoting its values.
func (o *lhOps) plainCompletion(status string) engine.Completion {
	out, _ := json.Marshal(map[string]any{"by": "dana", "note": o.plainQuote("note")})
	return engine.Completion{Ref: "human", Status: status, Output: out, Reason: o.plainQuote("reason")}
}

// completeOnWait is an event hook that completes the HUMAN task (through
// another engine, as another process would) whenever it waits, with
// *status.
func (o *lhOps) completeOnWait(tb testing.TB, status *string) func(engine.Event) {
	other := o.engine(tb, nil)
	return func(ev engine.Event) {
		if ev.Kind != engine.EventWaiting || ev.TaskRef != "human" {
			return
		}
		st := *status
		go func() {
			if _, err := other.CompleteTaskWith(context.Background(), ev.RunID, o.plainCompletion(st)); err != nil {
				o.note("complete while running", nil, err)
			}
		}()
	}
}

// defFile writes def where a re-execution finds it (as `wfrun run FILE`
// does): archiving masks a definition's _secrets members.
func (o *lhOps) defFile(tb testing.TB, name, def string) string {
	path := filepath.Join(o.h.dir, name+".json")
	if err := os.WriteFile(path, []byte(def), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// runOps runs the operations on the seed's world, scanning after each.
func (o *lhOps) runOps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	def, plain := o.def(), o.plainDef()
	input, _ := json.Marshal(map[string]any{"plain": "input", "_secrets": map[string]any{"newtok": o.newInput}})
	defer o.report(t, def+"\n"+plain)

	// 1. Start the rotation run, crash (cancel) while the HUMAN waits.
	crashCtx, crash := context.WithCancel(ctx)
	e1 := o.engine(t, func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			crash()
		}
	})
	d, err := e1.Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse: %s", o.m.Scrub([]byte(err.Error())))
	}
	path := o.defFile(t, fmt.Sprintf("lh_ops_%d", o.seed), def)
	res, err := e1.Start(crashCtx, d, input, engine.WithDefinitionPath(path))
	crash()
	o.note("start", res, err)
	if !errors.Is(err, engine.ErrInterrupted) || res == nil {
		r, _ := json.Marshal(res)
		t.Fatalf("want an interrupted run, got %s %s", o.m.Scrub([]byte(fmt.Sprint(err))), o.m.Scrub(r))
	}
	id := res.RunID
	o.scan(t, e1, "crash while HUMAN waits")

	// 2. External completion stored while no process runs the run.
	e2 := o.engine(t, nil)
	_, err = e2.CompleteTaskWith(ctx, id, o.completion("", true))
	o.note("complete", nil, err)
	o.scan(t, e2, "external completion of the waiting HUMAN")

	// 3. Resume by another engine: goes on to EXEC, which fails.
	e3 := o.engine(t, nil)
	res, err = e3.Resume(ctx, id)
	o.note("resume", res, err)
	if res == nil || res.Status != engine.StatusFailed {
		t.Errorf("resume: %s", o.m.Scrub([]byte(fmt.Sprint(err, res))))
	}
	o.scan(t, e3, "resume after the crash")

	// 4. Its retry is refused (SPEC §3: it needs archived _secrets);
	// the refusal is a surface too.
	res, err = e3.Retry(ctx, id, false)
	o.note("retry refused", res, err)
	o.scan(t, e3, "retry of the rotation run (refused)")

	// 5. The plain run: started, its HUMAN completed while it runs, it
	// fails at EXEC; retried, rerun from echo, restarted from the start
	// with its HUMAN failed externally, retried once more.
	status := "COMPLETED"
	e4 := o.engine(t, o.completeOnWait(t, &status))
	pd, err := e4.Parse([]byte(plain))
	if err != nil {
		t.Fatalf("parse: %s", o.m.Scrub([]byte(err.Error())))
	}
	ppath := o.defFile(t, fmt.Sprintf("lh_ops_plain_%d", o.seed), plain)
	res, err = e4.Start(ctx, pd, json.RawMessage(`{"plain":"input"}`), engine.WithDefinitionPath(ppath))
	o.note("plain start", res, err)
	if res == nil {
		t.Fatalf("plain start: %s", o.m.Scrub([]byte(fmt.Sprint(err))))
	}
	pid := res.RunID
	o.scan(t, e4, "plain run, HUMAN completed while running")
	res, err = e4.Retry(ctx, pid, false)
	o.note("retry", res, err)
	o.scan(t, e4, "retry")
	res, err = e4.Rerun(ctx, pid, lhTaskID(t, e4, pid, "echo"))
	o.note("rerun", res, err)
	o.scan(t, e4, "rerun from echo")
	status = "FAILED"
	res, err = e4.Restart(ctx, pid, true)
	o.note("restart", res, err)
	o.scan(t, e4, "restart from the start, HUMAN failed externally")
	status = "COMPLETED"
	res, err = e4.Retry(ctx, pid, false)
	o.note("retry after the HUMAN failed", res, err)
	o.scan(t, e4, "retry after the HUMAN failed")

	// 6. A second plain run: paused while the HUMAN waits, resumed, then
	// terminated with a reason quoting values.
	waiting := make(chan string, 4)
	e5 := o.engine(t, func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting && ev.TaskRef == "human" {
			waiting <- ev.RunID
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := e5.Start(ctx, pd, json.RawMessage(`{"plain":"input"}`), engine.WithDefinitionPath(ppath))
		o.note("second start", res, err)
	}()
	var id2 string
	select {
	case id2 = <-waiting:
	case <-ctx.Done():
		t.Fatal("the second run never waited")
	}
	e6 := o.engine(t, nil)
	o.note("pause", nil, e6.Pause(ctx, id2))
	o.scan(t, e6, "pause")
	o.note("resume paused", nil, e6.ResumePaused(ctx, id2))
	o.scan(t, e6, "resume paused")
	o.note("terminate", nil, e6.Terminate(ctx, id2, o.plainQuote("terminated")))
	<-done
	o.scan(t, e6, "terminate with a reason quoting values")

	// 7. Restart the terminated run, crash while its HUMAN waits, fail
	// the HUMAN while no process runs it (stored), resume.
	rctx, rcrash := context.WithCancel(ctx)
	e7 := o.engine(t, func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting && ev.TaskRef == "human" {
			rcrash()
		}
	})
	res, err = e7.Restart(rctx, id2, true)
	rcrash()
	o.note("restart terminated, crash", res, err)
	_, err = e6.CompleteTaskWith(ctx, id2, o.plainCompletion("FAILED"))
	o.note("fail stored", nil, err)
	res, err = e6.Resume(ctx, id2)
	o.note("resume after stored failure", res, err)
	o.scan(t, e6, "restart of the terminated run, crash, HUMAN failed while stored, resume")
}

func TestLeakHuntOps(t *testing.T) {
	n := 4 / min(lhRaceScale, 2)
	if testing.Short() {
		n = 2
	}
	h := newLHHunt(t)
	begin := time.Now()
	steps := 0
	for seed := int64(1); seed <= int64(n); seed++ {
		o := newLHOps(t, h, seed)
		o.runOps(t)
		steps += o.steps
		if seed == 1 || testing.Verbose() {
			t.Logf("seed %d operations: %s", seed, strings.Join(o.trail, "; "))
		}
	}
	t.Logf("%d seeds in %v: %d scans after operations", n, time.Since(begin).Round(time.Millisecond), steps)
}

// TestLeakHuntRotateFromPlainData: UPDATE_SECRET rotates to values that
// the run held as plain data before they became secrets — a token in an
// HTTP response's body (no outputFilter, no _secrets) and one in the run
// input — and a later task prints them. What the run stored before the
// rotation held them in clear (nothing knew them as secrets yet), so the
// store's earlier writes are not scanned; what the run shows and keeps
// after its end is (engine/remask.go: "A value registered mid-run ... must
// be masked in everything the run stored before"): Result, views, every
// run's stored document and archive, summaries, state, task logs, and the
// store writes and progress events made after the rotation task's record
// was written.
func TestLeakHuntRotateFromPlainData(t *testing.T) {
	h := newLHHunt(t)
	for seed := int64(1); seed <= int64(3); seed++ {
		o := newLHOps(t, h, seed)
		def := fmt.Sprintf(`{"name":"lh_rotplain_%d","version":1,"schemaVersion":2,"tasks":[
		 {"name":"issue","taskReferenceName":"issue","type":"HTTP","inputParameters":{"http_request":{"uri":%q,"method":"POST"}}},
		 {"name":"rotate","taskReferenceName":"rotate","type":"UPDATE_SECRET","inputParameters":{"_secrets":{"secretKey":"lh_rot","secretValue":"${issue.output.response.body.access_token}"}}},
		 {"name":"rotate_in","taskReferenceName":"rotate_in","type":"UPDATE_SECRET","inputParameters":{"_secrets":{"secretKey":"lh_rot2","secretValue":"${workflow.input.newtok}"}}},
		 {"name":"use","taskReferenceName":"use","type":"EXEC","inputParameters":{"env":{"A":"${workflow.secrets.lh_rot}","B":"${workflow.secrets.lh_rot2}"},
		  "command":["sh","-c","printf 'a=%%s b=%%s\\n' \"$A\" \"$B\"; exit 2"]}}],
		 "outputParameters":{"issued":"${issue.output.response.body}","input":"${workflow.input}","out":"${use.output.stdout}"}}`, seed, o.issue.URL+"/token")
		e := o.engine(t, nil)
		d, err := e.Parse([]byte(def))
		if err != nil {
			t.Fatalf("parse: %s", o.m.Scrub([]byte(err.Error())))
		}
		input, _ := json.Marshal(map[string]any{"newtok": o.newInput})
		res, err := e.Start(context.Background(), d, input)
		o.note("start", res, err)
		if res == nil || res.Status != engine.StatusFailed || res.FailedTaskRef != "use" {
			t.Fatalf("seed %d: want FAILED at use: %s", seed, strings.Join(o.trail, "; "))
		}
		// Keep only the store writes made after rotate_in's record.
		o.spy.mu.Lock()
		from := len(o.spy.writes)
		for i, w := range o.spy.writes {
			if strings.Contains(string(w.text), `"referenceTaskName":"rotate_in"`) && strings.Contains(string(w.text), `"status":"COMPLETED"`) {
				from = i + 1
				break
			}
		}
		kept, all := len(o.spy.writes)-from, len(o.spy.writes)
		o.spy.writes = o.spy.writes[from:]
		o.spy.mu.Unlock()
		if kept == 0 {
			t.Fatalf("seed %d: no store write after the rotation's record (of %d)", seed, all)
		}
		if seed == 1 {
			t.Logf("seed 1: %d of %d store writes are after the rotation; %s", kept, all, strings.Join(o.trail, "; "))
		}
		o.mu.Lock()
		// Progress printed up to rotate_in's end is before the rotation.
		cut := 0
		for i, ev := range o.events {
			if ev.TaskRef == "rotate_in" {
				cut = i + 1
			}
		}
		o.events = o.events[cut:]
		o.mu.Unlock()
		o.scan(t, e, "the run's end")
		o.report(t, def)
	}
}
