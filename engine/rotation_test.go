package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/bolt"
	redisstore "github.com/wfrun/wfrun/store/redis"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// rig is one backend (bolt files or a real redis-server) holding both the
// secrets and the runs, plus everything a run may print: progress events
// and slog output. leakCheck scans all of it raw.
type rig struct {
	backend string
	secrets store.Store
	runs    runstore.Store
	dir     string          // bolt: the directory of secrets.db and runs.db
	rdb     *goredis.Client // redis: a client to dump every key
	// ring is every engine's keyring: processes sharing a run store
	// share one (engine.WithKeyring), as `wfrun` does from its store.
	ring *seal.Keyring

	mu     sync.Mutex
	events bytes.Buffer // progress lines as a CLI would print them
	logs   bytes.Buffer // slog.Default output while the rig lives
}

var backends = []string{"bolt", "redis"}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRig(t *testing.T, backend string, history int) *rig {
	t.Helper()
	g := &rig{backend: backend, ring: keyring(t, 41)}
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	switch backend {
	case "bolt":
		g.dir = t.TempDir()
		s, err := bolt.Open(filepath.Join(g.dir, "secrets.db"), ring, bolt.WithHistory(history))
		if err != nil {
			t.Fatal(err)
		}
		g.secrets = s
		rs, err := runstore.OpenBolt(filepath.Join(g.dir, "runs.db"))
		if err != nil {
			t.Fatal(err)
		}
		g.runs = rs
	case "redis":
		addr := redistest.Start(t)
		g.rdb = goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32})
		s, err := redisstore.New(goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32}), ring, redisstore.WithHistory(history))
		if err != nil {
			t.Fatal(err)
		}
		g.secrets = s
		rs, err := runstore.OpenRedis("redis://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		g.runs = rs
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&g.mu, &g.logs}, nil)))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		_ = g.runs.Close()
		_ = g.secrets.Close()
		if g.rdb != nil {
			_ = g.rdb.Close()
		}
	})
	return g
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// rotationRegistry is what `wfrun run` uses: the default tasks
// (UPDATE_SECRET included), and EXEC when allowed.
func rotationRegistry(allowExec bool) *tasks.Registry {
	reg := tasks.NewDefaultRegistry()
	if _, ok := reg.Lookup(tasks.TypeUpdateSecret); !ok {
		panic("the default registry lost UPDATE_SECRET")
	}
	if allowExec {
		tasks.RegisterExec(reg)
	}
	return reg
}

func (g *rig) engine(t *testing.T, reg *tasks.Registry) *engine.Engine {
	t.Helper()
	e, err := engine.New(
		engine.WithRegistry(reg),
		engine.WithRunStore(g.runs),
		engine.WithKeyring(g.ring),
		engine.WithSecrets(func(p engine.Principal, project, env string) interpolate.SecretSource {
			return store.NewRunView(g.secrets, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, env)
		}),
		engine.WithEvents(func(ev engine.Event) {
			g.mu.Lock()
			defer g.mu.Unlock()
			fmt.Fprintf(&g.events, "%s %s %s %s %s: %s\n", ev.Kind, ev.RunID, ev.TaskRef, ev.TaskType, ev.Status, ev.Reason)
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (g *rig) put(t *testing.T, name string, value any) {
	t.Helper()
	b, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.secrets.Put(context.Background(), &store.Secret{Name: name, Value: b}); err != nil {
		t.Fatal(err)
	}
}

// raw returns every byte the backend holds: the bolt files as they are on
// disk (free pages included), or a DUMP of every Redis key (primary and
// archived runs, secrets, indexes).
func (g *rig) raw(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if g.dir != "" {
		entries, err := os.ReadDir(g.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(g.dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out["file "+e.Name()] = b
		}
		if _, ok := out["file runs.db"]; !ok {
			t.Fatalf("no runs.db in %s", g.dir)
		}
		return out
	}
	ctx := context.Background()
	keys, err := g.rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("redis keys: %v %v", keys, err)
	}
	for _, k := range keys {
		d, err := g.rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out["redis "+k] = []byte(d)
	}
	// A DUMP may LZF-compress a long string: read the values too.
	for k, v := range g.redisValues(t) {
		out[k+" (value)"] = v
	}
	return out
}

// leakForms are the encodings of a value a careless path could store.
func leakForms(v string) []string {
	return []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.URLEncoding.EncodeToString([]byte(v)),
		url.QueryEscape(v), hex.EncodeToString([]byte(v))}
}

// leakCheck scans the raw stored and archived runs (and the secret store's
// raw bytes, where values must be encrypted), the masked views of the given
// runs, the progress lines, the logs and any extra text for every value.
func (g *rig) leakCheck(t *testing.T, e *engine.Engine, extra map[string]string, values ...string) {
	t.Helper()
	ctx := context.Background()
	where := map[string][]byte{}
	for k, v := range g.raw(t) {
		where[k] = v
	}
	sums, err := e.List(ctx, runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		doc, _, err := g.runs.Load(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		where["run "+s.ID] = doc
		view, err := e.Show(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		where["show "+s.ID] = view
	}
	g.mu.Lock()
	where["progress"] = append([]byte(nil), g.events.Bytes()...)
	where["logs"] = append([]byte(nil), g.logs.Bytes()...)
	g.mu.Unlock()
	for k, v := range extra {
		where[k] = []byte(v)
	}
	if len(where["progress"]) == 0 {
		t.Fatal("leak check: no progress lines were captured")
	}
	for name, text := range where {
		for _, v := range values {
			if len(v) < 8 {
				t.Fatalf("leak check: value %q is too short to search for", v)
			}
			for _, f := range leakForms(v) {
				if bytes.Contains(text, []byte(f)) {
					t.Errorf("%s: %s holds a secret value (form %.6s…)", g.backend, name, f)
				}
			}
		}
	}
}

func loadWorkflow(t *testing.T, e *engine.Engine, name string, replace ...string) *engine.Definition {
	t.Helper()
	b, err := os.ReadFile("../testdata/workflows/" + name)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(replace); i += 2 {
		if !bytes.Contains(b, []byte(replace[i])) {
			t.Fatalf("%s has no %q", name, replace[i])
		}
		b = bytes.ReplaceAll(b, []byte(replace[i]), []byte(replace[i+1]))
	}
	d, err := e.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// tokenServer is the token endpoint of Orkes' rotation template: POST
// {"keyId","keySecret"} must match the app credentials; every call issues a
// new token. /api checks a bearer token against the latest one and echoes it.
type tokenServer struct {
	*httptest.Server
	keyID, keySecret string

	mu     sync.Mutex
	issued []string
	bad    []string // problems seen by the server
}

func newTokenServer(t *testing.T, keyID, keySecret string) *tokenServer {
	ts := &tokenServer{keyID: keyID, keySecret: keySecret}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts.mu.Lock()
		defer ts.mu.Unlock()
		switch r.URL.Path {
		case "/token":
			var in map[string]any
			if r.Method != http.MethodPost || json.Unmarshal(body, &in) != nil {
				ts.bad = append(ts.bad, "token: not a JSON POST")
				http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
				return
			}
			if _, ok := in["outputFilter"]; ok || bytes.Contains(body, []byte("outputFilter")) {
				ts.bad = append(ts.bad, "token: the request carries outputFilter")
			}
			for k := range r.Header {
				if strings.Contains(strings.ToLower(k), "outputfilter") {
					ts.bad = append(ts.bad, "token: a header carries outputFilter")
				}
			}
			if in["keyId"] != ts.keyID || in["keySecret"] != ts.keySecret || len(in) != 2 {
				ts.bad = append(ts.bad, "token: wrong credentials")
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			tok := fmt.Sprintf("tok-%d-%s", len(ts.issued)+1, randHex(12))
			ts.issued = append(ts.issued, tok)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token":%q,"expiresIn":3600,"tokenB64":%q}`, tok, base64.StdEncoding.EncodeToString([]byte(tok)))
		case "/api":
			got := r.Header.Get("Authorization")
			if len(ts.issued) == 0 || got != "Bearer "+ts.issued[len(ts.issued)-1] {
				ts.bad = append(ts.bad, "api: not the latest token")
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"youSent":%q}`, got)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) tokens() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.issued...)
}

func (ts *tokenServer) problems() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.bad...)
}

const tokenPlaceholder = "<YOUR_TOKEN_API_ENDPOINT>"

const bearerLaterRun = `{"name":"use_rotated_token","schemaVersion":2,"tasks":[
  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{
    "uri":"${workflow.input.url}","method":"GET",
    "headers":{"Authorization":"Bearer ${workflow.secrets.my_secret_holding_a_token}"}}}],
 "outputParameters":{"youSent":"${call.output.response.body.youSent}"}}`

// Orkes' rotation template, unmodified but for its endpoint: two runs leave
// the second token in the secret (version 2, both in the history), no token
// or app secret anywhere in the runs, progress or logs, and a later run's
// bearer header carries the second token while its echo is masked.
func TestRotateTokenTemplate(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			g := newRig(t, backend, 10)
			keyID, keySecret := "app-key-id-"+randHex(6), "app-key-secret-"+randHex(12)
			g.put(t, "appKeyId", keyID)
			g.put(t, "appKeySecret", keySecret)
			ts := newTokenServer(t, keyID, keySecret)
			e := g.engine(t, rotationRegistry(false))
			def := loadWorkflow(t, e, "rotate_token.json", tokenPlaceholder, ts.URL+"/token")

			var outputs []string
			for i := 1; i <= 2; i++ {
				res, err := e.Start(ctx, def, nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != engine.StatusCompleted {
					t.Fatalf("run %d: %s: %s", i, res.Status, res.Reason)
				}
				outputs = append(outputs, string(res.Output))
			}
			toks := ts.tokens()
			if len(toks) != 2 || toks[0] == toks[1] {
				t.Fatalf("token endpoint issued %d tokens", len(toks))
			}
			if p := ts.problems(); len(p) > 0 {
				t.Fatalf("token server saw: %v", p)
			}
			sec, err := g.secrets.Get(ctx, "my_secret_holding_a_token")
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(toks[1])
			if !bytes.Equal(sec.Value, want) || sec.Version != 2 {
				t.Fatalf("secret holds the wrong value or version v%d (want the second token, v2)", sec.Version)
			}
			hist, err := g.secrets.History(ctx, "my_secret_holding_a_token", 10)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int64{}
			for _, h := range hist {
				var v string
				_ = json.Unmarshal(h.Value, &v)
				seen[v] = h.Version
			}
			if len(hist) != 2 || seen[toks[0]] != 1 || seen[toks[1]] != 2 {
				t.Fatalf("history has %d versions; want both tokens as v1 and v2", len(hist))
			}

			// The stored task output is the filter's result: the token sealed
			// under _secrets, nothing of the raw response.
			sums, _ := e.List(ctx, runstore.ListOptions{})
			if len(sums) != 2 {
				t.Fatalf("%d runs stored", len(sums))
			}
			for _, s := range sums {
				if !s.Archived {
					t.Errorf("run %s not archived", s.ID)
				}
				view, err := e.Show(ctx, s.ID)
				if err != nil {
					t.Fatal(err)
				}
				var run struct {
					Tasks []struct {
						Ref    string          `json:"referenceTaskName"`
						Input  json.RawMessage `json:"inputData"`
						Output json.RawMessage `json:"outputData"`
					} `json:"tasks"`
				}
				if err := json.Unmarshal(view, &run); err != nil || len(run.Tasks) != 2 {
					t.Fatalf("show: %v %s", err, view)
				}
				jsonEq(t, run.Tasks[0].Output, `{"_secrets":"***"}`)
				// The stored input keeps the definition's spacing: compare compact.
				var in bytes.Buffer
				_ = json.Compact(&in, run.Tasks[0].Input)
				if !bytes.Contains(in.Bytes(), []byte(`"keySecret":"${workflow.secrets.appKeySecret}"`)) ||
					!bytes.Contains(in.Bytes(), []byte(`"outputFilter":{"_secrets":"***"}`)) {
					t.Errorf("stored input of retrieve_token: %s", run.Tasks[0].Input)
				}
				jsonEq(t, run.Tasks[1].Output, `{}`)
			}

			// A later run sends the second token; the echo is masked.
			later, err := e.Parse([]byte(bearerLaterRun))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(ctx, later, json.RawMessage(`{"url":"`+ts.URL+`/api"}`))
			if err != nil || res.Status != engine.StatusCompleted {
				t.Fatalf("later run: %v %+v (server: %v)", err, res, ts.problems())
			}
			jsonEq(t, res.Output, `{"youSent":"Bearer ***"}`)
			g.leakCheck(t, e, map[string]string{"outputs": strings.Join(outputs, "\n") + string(res.Output)},
				toks[0], toks[1], keySecret, keyID)
		})
	}
}

const rotateOnce = `{"name":"rotate_once","schemaVersion":2,"tasks":[
  {"name":"rotate","taskReferenceName":"rotate","type":"UPDATE_SECRET",
   "inputParameters":{"_secrets":{"secretKey":"shared_token","secretValue":"${workflow.input._secrets.v}"}}}]}`

// 20 concurrent runs, each rotating the same secret, leave exactly 20 new
// versions: none lost, none duplicated, versions contiguous.
func TestConcurrentRotationsAcrossRuns(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			const n = 20
			ctx := context.Background()
			g := newRig(t, backend, n+5)
			g.put(t, "shared_token", "initial-token-"+randHex(8))
			e := g.engine(t, rotationRegistry(false))
			def, err := e.Parse([]byte(rotateOnce))
			if err != nil {
				t.Fatal(err)
			}
			values := make([]string, n)
			for i := range values {
				values[i] = fmt.Sprintf("rotated-%02d-%s", i, randHex(8))
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in, _ := json.Marshal(map[string]any{"_secrets": map[string]string{"v": values[i]}})
					res, err := e.Start(ctx, def, in)
					switch {
					case err != nil:
						errs[i] = err
					case res.Status != engine.StatusCompleted:
						errs[i] = fmt.Errorf("run %d: %s: %s", i, res.Status, res.Reason)
					}
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			hist, err := g.secrets.History(ctx, "shared_token", n+5)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != n+1 {
				t.Fatalf("history holds %d versions, want %d (initial + %d rotations)", len(hist), n+1, n)
			}
			var versions []int
			got := map[string]bool{}
			for _, h := range hist {
				versions = append(versions, int(h.Version))
				var v string
				_ = json.Unmarshal(h.Value, &v)
				got[v] = true
			}
			sort.Ints(versions)
			for i, v := range versions {
				if v != i+1 {
					t.Fatalf("versions %v are not 1..%d", versions, n+1)
				}
			}
			for _, v := range values {
				if !got[v] {
					t.Fatalf("rotation to %.12s… was lost", v)
				}
			}
			g.leakCheck(t, e, nil, values...)
		})
	}
}

// EXEC with a bundle secret: the command sees the bundle's variable and
// file (it prints their digests), its echo of both is masked, the work
// directory is gone afterwards; ../x and /etc/x are refused.
func TestExecBundleWorkflow(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			g := newRig(t, backend, 10)
			envVal, fileVal := "bundle-env-"+randHex(10), "bundle-file-"+randHex(10)
			g.put(t, "deploy_bundle", map[string]any{
				"env_vars": []map[string]string{{"name": "DEPLOY_TOKEN", "value": envVal}},
				"files":    []map[string]string{{"path": "conf/deploy.key", "content": fileVal}},
			})

			// Without EXEC enabled the definition is refused, saying how to enable it.
			off := g.engine(t, rotationRegistry(false))
			b, err := os.ReadFile("../testdata/workflows/exec_bundle.json")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := off.Parse(b); err == nil || !strings.Contains(err.Error(), "--allow-exec") || !strings.Contains(err.Error(), "/tasks/0/type") {
				t.Fatalf("EXEC without --allow-exec: %v", err)
			}

			// A definition checked against another registry still fails at
			// execution with the same hint.
			parsedElsewhere, err := engine.ParseDefinition(b, engine.WithTaskRegistry(rotationRegistry(true)))
			if err != nil {
				t.Fatal(err)
			}
			if res, err := off.Start(ctx, parsedElsewhere, nil); err != nil || res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "--allow-exec") {
				t.Fatalf("EXEC on an engine without it: %v %+v", err, res)
			}

			e := g.engine(t, rotationRegistry(true))
			def := loadWorkflow(t, e, "exec_bundle.json")
			res, err := e.Start(ctx, def, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusCompleted {
				t.Fatalf("%s: %s", res.Status, res.Reason)
			}
			var out struct {
				Stdout   string `json:"stdout"`
				ExitCode int    `json:"exitCode"`
			}
			if err := json.Unmarshal(res.Output, &out); err != nil {
				t.Fatalf("output %s", res.Output)
			}
			digest := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
			for _, want := range []string{"env-sha256=" + digest(envVal), "file-sha256=" + digest(fileVal), "env=***", "file=***", "mode=600"} {
				if !strings.Contains(out.Stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.Stdout)
				}
			}
			m := regexp.MustCompile(`(?m)^dir=(\S+)$`).FindStringSubmatch(out.Stdout)
			if m == nil {
				t.Fatalf("no dir= line in %s", out.Stdout)
			}
			if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
				t.Fatalf("work directory %s still exists (%v)", m[1], err)
			}
			g.mu.Lock()
			progress := g.events.String()
			g.mu.Unlock()
			if !strings.Contains(progress, "env=***") {
				t.Errorf("command output was not streamed, masked, to progress:\n%s", progress)
			}

			// Paths leaving the work directory: refused at load when literal…
			for _, p := range []string{"../x", "/etc/x"} {
				bad := fmt.Sprintf(`{"name":"bad","tasks":[{"name":"x","taskReferenceName":"x","type":"EXEC",
				  "inputParameters":{"command":["true"],"files":{%q:"data"}}}]}`, p)
				if _, err := e.Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "work directory") {
					t.Errorf("files %q: %v", p, err)
				}
			}
			// …and at run time when they come from a bundle; nothing is written.
			for i, p := range []string{"../x", "/etc/x"} {
				name := fmt.Sprintf("evil_bundle_%d", i)
				g.put(t, name, map[string]any{"files": []map[string]string{{"path": p, "content": fileVal}}})
				d, err := e.Parse([]byte(fmt.Sprintf(`{"name":"evil","tasks":[{"name":"x","taskReferenceName":"x","type":"EXEC",
				  "inputParameters":{"command":["true"],"bundles":[%q]}}]}`, name)))
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.Start(ctx, d, nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "work directory") {
					t.Errorf("bundle path %q: %s %s", p, res.Status, res.Reason)
				}
			}
			if _, err := os.Stat("/etc/x"); err == nil {
				t.Error("/etc/x exists")
			}
			g.leakCheck(t, e, map[string]string{"output": string(res.Output)}, envVal, fileVal)
		})
	}
}
