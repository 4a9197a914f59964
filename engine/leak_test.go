package engine_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// boundaryEngine is a wfrun engine as one process of the CLI builds it:
// the rig's stores, a fixed keyring (every process has the same master
// key), the default tasks and EXEC, progress into the rig.
func (g *rig) boundaryEngine(t *testing.T, ring *seal.Keyring, onEvent func(engine.Event), opts ...engine.Option) *engine.Engine {
	t.Helper()
	base := []engine.Option{
		engine.WithRegistry(rotationRegistry(true)),
		engine.WithRunStore(g.runs),
		engine.WithKeyring(ring),
		engine.WithPollInterval(10 * time.Millisecond),
		engine.WithSecrets(func(p engine.Principal, project, env string) interpolate.SecretSource {
			return store.NewRunView(g.secrets, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, env)
		}),
		engine.WithEvents(func(ev engine.Event) {
			g.mu.Lock()
			fmt.Fprintf(&g.events, "%s %s %s %s %s: %s\n", ev.Kind, ev.RunID, ev.TaskRef, ev.TaskType, ev.Status, ev.Reason)
			g.mu.Unlock()
			if onEvent != nil {
				onEvent(ev)
			}
		}),
	}
	e, err := engine.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startUntilWaiting starts def and "kills the process" (cancels it) as soon
// as a task waits for an external completion.
func startUntilWaiting(t *testing.T, g *rig, ring *seal.Keyring, def string, input string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := g.boundaryEngine(t, ring, func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			cancel()
		}
	})
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, d, json.RawMessage(input))
	if !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v %+v", err, res)
	}
	return res.RunID
}

// A run killed while it waits, completed from another process (wfrun task
// complete) and resumed by a third one masks exactly what the uninterrupted
// run would have: the HTTP auth credential, the EXEC bundle's value, and
// both the replaced and the new value of an UPDATE_SECRET — though the
// store no longer holds the replaced one and no template names any of them.
// Artifacts: the raw runs.db / Redis values, wfrun show, progress lines and
// logs, in every encoded form.
func TestResumeMasksEveryValueTheRunUsed(t *testing.T) {
	const (
		bearer   = "bearer-tok-Hq7Lw2Zp9Xv4"
		oldValue = "rotated-old-Jt5Nc8Rb3Ky6"
		newValue = "rotated-new-Pd2Fs7Gm4Wa9"
		bundled  = "bundle-val-Tu6Ye1Io8Pa3"
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/call":
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "/issue": // a token endpoint: the new credential, under _secrets
			fmt.Fprintf(w, `{"_secrets":{"token":%q}}`, newValue)
		case "/leak": // a careless API that echoes every credential it knows
			fmt.Fprintf(w, `{"a":%q,"b":%q,"c":%q,"d":%q}`, bearer, oldValue, newValue, bundled)
		}
	}))
	defer api.Close()
	def := `{"name":"resume_masks","tasks":[
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"uri":"` + api.URL + `/call","method":"GET","auth":{"type":"bearer","secret":"api_token"}}},
	  {"name":"bundle","taskReferenceName":"bundle","type":"EXEC","inputParameters":{"command":["true"],"bundles":["deploy_bundle"]}},
	  {"name":"issue","taskReferenceName":"issue","type":"HTTP","inputParameters":{"uri":"` + api.URL + `/issue","method":"POST"}},
	  {"name":"rotate","taskReferenceName":"rotate","type":"UPDATE_SECRET","inputParameters":{"_secrets":{"secretKey":"rotating","secretValue":"${issue.output.response.body._secrets.token}"}}},
	  {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
	  {"name":"leak","taskReferenceName":"leak","type":"HTTP","inputParameters":{"uri":"` + api.URL + `/leak","method":"GET"}}],
	 "outputParameters":{"echoed":"${leak.output.response.body}"}}`
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			g := newRig(t, backend, 2)
			g.put(t, "api_token", bearer)
			g.put(t, "rotating", oldValue)
			g.put(t, "deploy_bundle", store.Bundle{EnvVars: []store.BundleEnvVar{{Name: "DEPLOY", Value: bundled}}})
			ring := keyring(t, 7)
			id := startUntilWaiting(t, g, ring, def, `{}`)

			other := g.boundaryEngine(t, ring, nil) // wfrun task complete
			if _, err := other.CompleteTask(context.Background(), id, "approve", "", json.RawMessage(`{"by":"dana"}`)); err != nil {
				t.Fatal(err)
			}
			third := g.boundaryEngine(t, ring, nil) // wfrun resume
			res, err := third.Resume(context.Background(), id)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			if want := `{"echoed":{"a":"***","b":"***","c":"***","d":"***"}}`; string(res.Output) != want {
				t.Fatalf("output %s, want %s", res.Output, want)
			}
			g.leakCheck(t, third, map[string]string{"result": string(res.Output)}, bearer, oldValue, newValue, bundled)
		})
	}
}

// A task output key spelled with an escape ("\u005fsecrets" is
// "_secrets") is sealed and its leaves are masked like any other.
func TestEscapedSecretsKeyIsSealed(t *testing.T) {
	const value = "escaped-key-value-Vb4Nm8Qx2"
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			g := newRig(t, backend, 2)
			var got string
			e := g.boundaryEngine(t, keyring(t, 3), nil,
				engine.WithWorker("issue", func(context.Context, json.RawMessage) (json.RawMessage, error) {
					return json.RawMessage(`{"\u005fsecrets":{"k":"` + value + `"},"deeper":{"_s\u0065crets":{"k2":"` + value + `-2"}},"echo":"` + value + `"}`), nil
				}),
				engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
					got = string(in)
					return json.RawMessage(`{"copy":` + string(in) + `}`), nil
				}))
			d, err := e.Parse([]byte(`{"name":"esc","tasks":[{"name":"issue","taskReferenceName":"issue"},
			  {"name":"use","taskReferenceName":"use","inputParameters":{"k":"${issue.output._secrets.k}","k2":"${issue.output.deeper._secrets.k2}"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, nil)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("%v %+v", err, res)
			}
			// The next task read both values: the keys were recognised.
			if !strings.Contains(got, value) || !strings.Contains(got, value+"-2") {
				t.Fatalf("the next task got %s", got)
			}
			g.leakCheck(t, e, map[string]string{"result": string(res.Output)}, value, value+"-2")
		})
	}
}

// wfrun task complete seals the output it writes: until a runner takes it,
// it rests in the run store, and nothing of it is readable there.
func TestExternalCompletionIsSealedWhenWritten(t *testing.T) {
	const (
		code = "completion-code-Rt5Yu8Io2"
		note = "completion-note-Kl3Zx6Cv9"
	)
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			g := newRig(t, backend, 2)
			ring := keyring(t, 5)
			id := startUntilWaiting(t, g, ring, `{"name":"wait","tasks":[{"name":"approve","taskReferenceName":"approve","type":"HUMAN"}],
			  "outputParameters":{"note":"${approve.output.note}"}}`, `{}`)
			e := g.boundaryEngine(t, ring, nil)
			if _, err := e.CompleteTask(context.Background(), id, "approve", "", json.RawMessage(`{"_secrets":{"code":"`+code+`"},"note":"`+note+`"}`)); err != nil {
				t.Fatal(err)
			}
			// Before any runner took it: neither value is in the store.
			for where, b := range g.plainValues(t) {
				for _, v := range []string{code, note} {
					for _, f := range leakForms(v) {
						if strings.Contains(string(b), f) {
							t.Fatalf("%s holds the pending completion's %q in clear", where, v)
						}
					}
				}
			}
			res, err := g.boundaryEngine(t, ring, nil).Resume(context.Background(), id)
			if err != nil || res.Status != engine.StatusCompleted || !strings.Contains(string(res.Output), note) {
				t.Fatalf("resume: %v %+v", err, res)
			}
			g.leakCheck(t, e, nil, code)
		})
	}
}

// A run that writes secrets needs a source that can write them: with
// interpolate.MapSecrets it is refused when it starts, not when the task
// runs; reading (HTTP auth) works with any source.
func TestSecretSourceCheckedAtConstruction(t *testing.T) {
	const bearer = "map-bearer-Gh5Jk8Lz3"
	var seen string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("Authorization")
		_, _ = io.WriteString(w, `{}`)
	}))
	defer api.Close()
	mk := func(withSource bool) *engine.Engine {
		opts := []engine.Option{engine.WithRegistry(tasks.NewDefaultRegistry())}
		if withSource {
			opts = append(opts, engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
				return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + bearer + `"`)}
			}))
		}
		e, err := engine.New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	run := func(e *engine.Engine, def string) (*engine.Result, error) {
		d, err := e.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		return e.Start(context.Background(), d, nil)
	}
	rotate := `{"name":"rot","tasks":[{"name":"r","taskReferenceName":"r","type":"UPDATE_SECRET","inputParameters":{"_secrets":{"secretKey":"api_token","secretValue":"next-value-123456"}}}]}`
	if res, err := run(mk(true), rotate); err == nil || !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("UPDATE_SECRET over MapSecrets: want ErrReadOnly at start, got %v %+v", err, res)
	}
	auth := `{"name":"auth","tasks":[{"name":"c","taskReferenceName":"c","type":"HTTP","inputParameters":{"uri":"` + api.URL + `","method":"GET","auth":{"type":"bearer","secret":"api_token"}}}]}`
	if res, err := run(mk(false), auth); err == nil || !strings.Contains(err.Error(), "no secret source") {
		t.Fatalf("HTTP auth without a source: want an error at start, got %v %+v", err, res)
	}
	res, err := run(mk(true), auth)
	if err != nil || res.Status != engine.StatusCompleted || seen != "Bearer "+bearer {
		t.Fatalf("HTTP auth over MapSecrets: %v %+v (server saw %q)", err, res, seen)
	}
}

// The names of the secrets a task reads or writes by name are literal, and
// a secret never becomes program text: both are definition errors naming
// the place.
func TestSecretRulesAtLoad(t *testing.T) {
	e, err := engine.New(engine.WithRegistry(rotationRegistry(true)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, task, where string }{
		{"auth.secret from run input", `{"name":"h","taskReferenceName":"h","type":"HTTP","inputParameters":{"uri":"http://x","method":"GET","auth":{"type":"bearer","secret":"${workflow.input.which}"}}}`,
			"/tasks/0/inputParameters/auth/secret"},
		{"auth inside http_request", `{"name":"h","taskReferenceName":"h","type":"HTTP","inputParameters":{"http_request":{"uri":"http://x","method":"GET","auth":{"type":"bearer","secret":"$<workflow.input.which>"}}}}`,
			"/tasks/0/inputParameters/http_request/auth/secret"},
		{"auth object from an expression", `{"name":"h","taskReferenceName":"h","type":"HTTP","inputParameters":{"uri":"http://x","method":"GET","auth":"${workflow.input.auth}"}}`,
			"/tasks/0/inputParameters/auth"},
		// A null auth in http_request is no auth there: the task uses the
		// top-level one, which run input must not choose either.
		{"auth beside an http_request whose auth is null", `{"name":"h","taskReferenceName":"h","type":"HTTP","inputParameters":{"auth":"${workflow.input.auth}","http_request":{"uri":"http://x","method":"GET","auth":null}}}`,
			"/tasks/0/inputParameters/auth"},
		{"auth.secret beside an http_request whose auth is null", `{"name":"h","taskReferenceName":"h","type":"HTTP_POLL","inputParameters":{"auth":{"type":"bearer","secret":"${workflow.input.which}"},"http_request":{"uri":"http://x","method":"GET","auth":null,"terminationCondition":"true"}}}`,
			"/tasks/0/inputParameters/auth/secret"},
		{"bundle from run input", `{"name":"x","taskReferenceName":"x","type":"EXEC","inputParameters":{"command":["true"],"bundles":["ok","${workflow.input.b}"]}}`,
			"/tasks/0/inputParameters/bundles/1"},
		{"UPDATE_SECRET key from run input", `{"name":"u","taskReferenceName":"u","type":"UPDATE_SECRET","inputParameters":{"_secrets":{"secretKey":"${workflow.input.k}","secretValue":"v"}}}`,
			"/tasks/0/inputParameters/_secrets/secretKey"},
		{"secret in INLINE source", `{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'${workflow.secrets.api_token}'.length"}}`,
			"/tasks/0/inputParameters/expression"},
		{"secret in jq query", `{"name":"j","taskReferenceName":"j","type":"JSON_JQ_TRANSFORM","inputParameters":{"queryExpression":".x == \"${workflow.secrets.api_token}\""}}`,
			"/tasks/0/inputParameters/queryExpression"},
		{"secret in SWITCH expression", `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"'${workflow.secrets.api_token}' == 'x'","decisionCases":{"b":[]}}`,
			"/tasks/0/expression"},
		{"secret in DO_WHILE loopCondition", `{"name":"d","taskReferenceName":"d","type":"DO_WHILE","loopCondition":"'${workflow.secrets.api_token}' == 'x'","loopOver":[{"name":"w","taskReferenceName":"w","type":"SET_VARIABLE","inputParameters":{}}]}`,
			"/tasks/0/loopCondition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Parse([]byte(`{"name":"w","tasks":[` + tc.task + `]}`))
			if err == nil || !strings.Contains(err.Error(), tc.where) {
				t.Fatalf("want a definition error at %s, got %v", tc.where, err)
			}
		})
	}
	// Literal names and secrets passed as inputs are fine.
	if _, err := e.Parse([]byte(`{"name":"ok","tasks":[
	  {"name":"h","taskReferenceName":"h","type":"HTTP","inputParameters":{"uri":"http://x","method":"GET","auth":{"type":"bearer","secret":"api_token"}}},
	  {"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","tok":"${workflow.secrets.api_token}","expression":"$.tok.length"}}]}`)); err != nil {
		t.Fatal(err)
	}
}

// plainValues is rig.raw with Redis values read as values (GET, HGETALL,
// ...) rather than DUMPed: a DUMP may LZF-compress a long string, which
// hides it from a byte search.
func (g *rig) plainValues(t *testing.T) map[string][]byte {
	t.Helper()
	if g.rdb == nil {
		return g.raw(t)
	}
	return g.redisValues(t)
}

func (g *rig) redisValues(t *testing.T) map[string][]byte {
	ctx := context.Background()
	out := map[string][]byte{}
	keys, err := g.rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var text string
		switch typ, _ := g.rdb.Type(ctx, k).Result(); typ {
		case "string":
			text, _ = g.rdb.Get(ctx, k).Result()
		case "hash":
			m, _ := g.rdb.HGetAll(ctx, k).Result()
			text = fmt.Sprint(m)
		case "list":
			l, _ := g.rdb.LRange(ctx, k, 0, -1).Result()
			text = strings.Join(l, "\n")
		case "set":
			l, _ := g.rdb.SMembers(ctx, k).Result()
			text = strings.Join(l, "\n")
		case "zset":
			l, _ := g.rdb.ZRange(ctx, k, 0, -1).Result()
			text = strings.Join(l, "\n")
		case "stream":
			l, _ := g.rdb.XRange(ctx, k, "-", "+").Result()
			text = fmt.Sprint(l)
		}
		out["redis "+k] = []byte(text)
	}
	return out
}

// Every secret read a task makes — template references and HTTP auth — is
// recorded in the store's audit trail with the run id and the task; the
// start's reads, with the run id.
func TestSecretReadsAreAuditedWithRunAndTask(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{}`) }))
	defer api.Close()
	g := newRig(t, "bolt", 2)
	g.put(t, "api_token", "audited-token-Wq3Er5Ty7")
	g.put(t, "other", "audited-other-Ui8Op2As4")
	e := g.boundaryEngine(t, keyring(t, 9), nil)
	d, err := e.Parse([]byte(`{"name":"aud","tasks":[
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"uri":"` + api.URL + `","method":"GET","auth":{"type":"bearer","secret":"api_token"},"headers":{"X-Other":"${workflow.secrets.other}"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, nil)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	b, ok := g.secrets.(interface {
		ReadAudit(context.Context, store.AuditFilter) ([]store.AuditEvent, error)
	})
	if !ok {
		t.Fatalf("%T has no audit trail", g.secrets)
	}
	evs, err := b.ReadAudit(context.Background(), store.AuditFilter{Run: res.RunID})
	if err != nil {
		t.Fatal(err)
	}
	names, started := map[string]bool{}, map[string]bool{}
	for _, ev := range evs {
		switch ev.Task {
		case "call":
			names[ev.Name] = true
		case "":
			// The run's start reads the names its definition reads, with
			// the run id: it checks that the definition holds none of
			// their values (defvalues.go).
			started[ev.Name] = true
		default:
			t.Fatalf("audit event of another task: %+v", ev)
		}
	}
	if !started["api_token"] || !started["other"] || len(started) != 2 {
		t.Fatalf("the start's reads for run %s: %+v", res.RunID, evs)
	}
	if !names["api_token"] || !names["other"] {
		t.Fatalf("audit events for run %s: %+v", res.RunID, evs)
	}
}

// The forms a value takes on the wire, end to end: a remote API answers
// with the token base64-wrapped at 64 and 76 columns (PEM, MIME), JSON
// \uXXXX- and \/-escaped, as HTML entities, and a JSON secret of short
// fields echoed whole. Nothing of them is stored or shown (runs.db, Redis,
// show, progress, printed output).
func TestEncodedFormsEndToEnd(t *testing.T) {
	const (
		token = "wire-token/Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7-Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5Yz7-end"
	)
	short := map[string]string{"u": "ab1", "p": "x9z", "k": "q7w"} // every field under 4 bytes
	shortJSON, _ := json.Marshal(short)
	wrap := func(s string, n int) string {
		var b strings.Builder
		for len(s) > n {
			b.WriteString(s[:n] + "\n")
			s = s[n:]
		}
		b.WriteString(s)
		return b.String()
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(token + token))
	var uesc strings.Builder
	for _, c := range token {
		fmt.Fprintf(&uesc, `\u%04x`, c)
	}
	var html strings.Builder
	for _, c := range token {
		fmt.Fprintf(&html, "&#%d;", c)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"u":"%s","slash":%q,"whole":%q}`, uesc.String(), strings.ReplaceAll(token, "/", `\/`), string(shortJSON))
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "-----BEGIN X-----\n%s\n-----END X-----\n%s\n%s\n", wrap(b64, 64), wrap(b64, 76), html.String())
		}
	}))
	defer api.Close()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			g := newRig(t, backend, 2)
			g.put(t, "wire", token)
			g.put(t, "shorts", short)
			e := g.boundaryEngine(t, keyring(t, 4), nil)
			d, err := e.Parse([]byte(`{"name":"forms","tasks":[
			  {"name":"j","taskReferenceName":"j","type":"HTTP","inputParameters":{"uri":"` + api.URL + `/json","method":"POST","body":{"t":"${workflow.secrets.wire}","s":"${workflow.secrets.shorts}"}}},
			  {"name":"x","taskReferenceName":"x","type":"HTTP","inputParameters":{"uri":"` + api.URL + `/text","method":"GET"}}],
			 "outputParameters":{"j":"${j.output.response.body}","x":"${x.output.response.body}"}}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, nil)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("%v %+v", err, res)
			}
			extra := map[string]string{"result": string(res.Output)}
			g.leakCheck(t, e, extra, token)
			for where, text := range map[string]string{"result": string(res.Output)} {
				for _, form := range []string{string(shortJSON), uesc.String()[:36], html.String()[:40], wrap(b64, 64)[:60], b64[:60]} {
					if strings.Contains(text, form) || strings.Contains(text, strings.ReplaceAll(form, `"`, `\"`)) {
						t.Errorf("%s holds %.20s…", where, form)
					}
				}
			}
		})
	}
}

// A SUB_WORKFLOW child stores the parent's secret references as its input,
// never the values they resolved to — not even a value too short to mask —
// and a child resumed after a kill still reads its `_secrets` input.
func TestSubWorkflowStoresReferences(t *testing.T) {
	const (
		long = "sub-long-Rf4Tg6Yh8Uj"
		tiny = "Zq!"
	)
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			g := newRig(t, backend, 2)
			var seen string
			mk := func(onEvent func(engine.Event)) *engine.Engine {
				return g.boundaryEngine(t, keyring(t, 6), onEvent,
					engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
						return interpolate.MapSecrets{"long": json.RawMessage(`"` + long + `"`), "tiny": json.RawMessage(`"` + tiny + `"`)}
					}),
					engine.WithWorker("use", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
						seen = string(in)
						return json.RawMessage(`{}`), nil
					}))
			}
			def := `{"name":"parent","tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
			  "subWorkflowParam":{"workflowDefinition":{"name":"child","tasks":[
			    {"name":"approve","taskReferenceName":"approve","type":"HUMAN"},
			    {"name":"use","taskReferenceName":"use","inputParameters":{"_secrets":{"l":"${workflow.input._secrets.l}","t":"${workflow.input._secrets.t}"}}}]}},
			  "inputParameters":{"plain":"${workflow.secrets.long}","short":"${workflow.secrets.tiny}","_secrets":{"l":"${workflow.secrets.long}","t":"${workflow.secrets.tiny}"}}}]}`
			ctx, cancel := context.WithCancel(context.Background())
			a := mk(func(ev engine.Event) {
				if ev.Kind == engine.EventWaiting {
					cancel()
				}
			})
			d, err := a.Parse([]byte(def))
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Start(ctx, d, nil)
			if !errors.Is(err, engine.ErrInterrupted) {
				t.Fatalf("%v %+v", err, res)
			}
			// The child's stored input, while it waits: references only.
			for where, b := range g.plainValues(t) {
				for _, v := range []string{long, `"` + tiny + `"`} {
					if strings.Contains(string(b), v) {
						t.Fatalf("%s holds %q", where, v)
					}
				}
			}
			var childID string
			for _, ev := range strings.Split(g.events.String(), "\n") {
				if strings.Contains(ev, " approve HUMAN ") {
					childID = strings.Fields(ev)[1]
				}
			}
			raw, _, err := g.runs.Load(context.Background(), childID)
			if err != nil {
				t.Fatal(err)
			}
			var child struct {
				Input map[string]any `json:"input"`
			}
			if err := json.Unmarshal(raw, &child); err != nil {
				t.Fatal(err)
			}
			if child.Input["plain"] != "${workflow.secrets.long}" || child.Input["short"] != "${workflow.secrets.tiny}" {
				t.Fatalf("child input %v", child.Input)
			}
			b := mk(nil)
			if _, err := b.CompleteTask(context.Background(), childID, "approve", "", nil); err != nil {
				t.Fatal(err)
			}
			res, err = b.Resume(context.Background(), res.RunID)
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("resume: %v %+v", err, res)
			}
			if !strings.Contains(seen, long) || !strings.Contains(seen, `"t":"`+tiny+`"`) {
				t.Fatalf("the resumed child's task got %s", seen)
			}
			g.leakCheck(t, b, nil, long)
		})
	}
}
