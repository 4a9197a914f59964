package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/bolt"
	"github.com/wfrun/wfrun/store/memory"
	redisstore "github.com/wfrun/wfrun/store/redis"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// rotEnv is one run's view of a real store with a real masker.
type rotEnv struct {
	raw    store.Store
	masker *masking.Masker
	svc    *tasks.Services
	logs   *strings.Builder
	mu     *sync.Mutex
}

func newRotEnv(t testing.TB, raw store.Store, p store.Principal) *rotEnv {
	t.Helper()
	e := &rotEnv{raw: raw, masker: masking.New(), logs: &strings.Builder{}, mu: &sync.Mutex{}}
	e.svc = &tasks.Services{
		Masker:  e.masker,
		Secrets: store.NewRunView(raw, p, "", ""),
		Logf: func(format string, args ...any) {
			e.mu.Lock()
			defer e.mu.Unlock()
			fmt.Fprintf(e.logs, format+"\n", args...)
		},
	}
	return e
}

func (e *rotEnv) logText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

func rotRequest(svc *tasks.Services, input string) *tasks.Request {
	return &tasks.Request{
		WorkflowID: "wf-1", TaskID: "t-1", RefName: "update_secret_ref",
		TaskType: tasks.TypeUpdateSecret, Input: json.RawMessage(input), Services: svc,
	}
}

func rotInput(key string, value any) string {
	b, err := json.Marshal(map[string]any{"_secrets": map[string]any{"secretKey": key, "secretValue": value}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func boltStore(t testing.TB, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(filepath.Join(t.TempDir(), "secrets.db"), ring, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestUpdateSecretCreatesThenUpdates(t *testing.T) {
	ctx := context.Background()
	e := newRotEnv(t, memory.New(), store.LocalPrincipal)
	task := tasks.NewUpdateSecret()

	res := task.Execute(ctx, rotRequest(e.svc, rotInput("my_token", "first-token-value")))
	if res.Status != tasks.Completed {
		t.Fatalf("create: %s %s", res.Status, res.Reason)
	}
	if string(res.Output) != "{}" {
		t.Fatalf("output = %s, want {}", res.Output)
	}
	sec, err := e.raw.Get(ctx, "my_token")
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Value) != `"first-token-value"` || sec.Version != 1 {
		t.Fatalf("stored %s v%d", sec.Value, sec.Version)
	}

	// A JSON value is stored as that JSON.
	obj := map[string]any{"ACCESS_KEY": "AKIAEXAMPLE123", "SECRET_ACCESS_KEY": "very-secret-key-42"}
	res = task.Execute(ctx, rotRequest(e.svc, rotInput("my_token", obj)))
	if res.Status != tasks.Completed {
		t.Fatalf("update: %s %s", res.Status, res.Reason)
	}
	sec, err = e.raw.Get(ctx, "my_token")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(sec.Value, &got); err != nil || got["SECRET_ACCESS_KEY"] != "very-secret-key-42" || sec.Version != 2 {
		t.Fatalf("stored %s v%d (%v)", sec.Value, sec.Version, err)
	}
	hist, err := e.raw.History(ctx, "my_token", 10)
	if err != nil || len(hist) != 2 || string(hist[1].Value) != `"first-token-value"` {
		t.Fatalf("history: %d versions, err %v", len(hist), err)
	}
}

func TestUpdateSecretRegistersValuesWithMasker(t *testing.T) {
	ctx := context.Background()
	e := newRotEnv(t, memory.New(), store.LocalPrincipal)
	task := tasks.NewUpdateSecret()
	if r := task.Execute(ctx, rotRequest(e.svc, rotInput("tok", "old-token-aaaa"))); r.Status != tasks.Completed {
		t.Fatal(r.Reason)
	}
	// A fresh run (fresh masker) rotates: the new value, its JSON leaves,
	// and the value it replaces are masked in that run.
	e2 := newRotEnv(t, e.raw, store.LocalPrincipal)
	val := map[string]any{"token": "new-token-bbbb", "meta": map[string]any{"refresh": "refresh-cccc"}}
	if r := task.Execute(ctx, rotRequest(e2.svc, rotInput("tok", val))); r.Status != tasks.Completed {
		t.Fatal(r.Reason)
	}
	text := []byte("a new-token-bbbb b refresh-cccc c old-token-aaaa d")
	if got := string(e2.masker.Mask(text)); got != "a *** b *** c *** d" {
		t.Fatalf("masked = %q", got)
	}
}

func TestUpdateSecretMaskerRegisteredBeforeWrite(t *testing.T) {
	// The store's Put observes the masker: the value must already be masked
	// when it reaches the store.
	ctx := context.Background()
	e := newRotEnv(t, memory.New(), store.LocalPrincipal)
	probe := &rotProbe{SecretAccess: e.svc.Secrets, m: e.masker}
	e.svc.Secrets = probe
	if r := tasks.NewUpdateSecret().Execute(ctx, rotRequest(e.svc, rotInput("tok", "value-to-mask-1234"))); r.Status != tasks.Completed {
		t.Fatal(r.Reason)
	}
	if probe.sawUnmasked || probe.puts != 1 {
		t.Fatalf("masked before write: %v, puts %d", !probe.sawUnmasked, probe.puts)
	}
}

// rotProbe wraps a real RunView and checks the masker at Put time.
type rotProbe struct {
	tasks.SecretAccess
	m           *masking.Masker
	puts        int
	sawUnmasked bool
}

func (p *rotProbe) Put(ctx context.Context, name string, value json.RawMessage, ifVersion int64) (*store.Secret, error) {
	p.puts++
	if string(p.m.Mask(value)) == string(value) {
		p.sawUnmasked = true
	}
	return p.SecretAccess.Put(ctx, name, value, ifVersion)
}

func TestUpdateSecretMissingFields(t *testing.T) {
	ctx := context.Background()
	e := newRotEnv(t, memory.New(), store.LocalPrincipal)
	task := tasks.NewUpdateSecret()
	cases := []struct {
		name, input, want string
	}{
		{"no input", ``, "_secrets"},
		{"null input", `null`, "_secrets"},
		{"no _secrets", `{"x":1}`, "_secrets"},
		{"empty _secrets", `{"_secrets":{}}`, "_secrets"},
		{"null _secrets", `{"_secrets":null}`, "_secrets"},
		{"_secrets not object", `{"_secrets":"abc"}`, "_secrets"},
		{"no key", `{"_secrets":{"secretValue":"v-1234"}}`, "secretKey"},
		{"empty key", `{"_secrets":{"secretKey":"","secretValue":"v-1234"}}`, "secretKey"},
		{"key not string", `{"_secrets":{"secretKey":12,"secretValue":"v-1234"}}`, "secretKey"},
		{"bad key", `{"_secrets":{"secretKey":"a b","secretValue":"v-1234"}}`, "secretKey"},
		{"no value", `{"_secrets":{"secretKey":"k"}}`, "secretValue"},
		{"empty value", `{"_secrets":{"secretKey":"k","secretValue":""}}`, "secretValue"},
		{"null value", `{"_secrets":{"secretKey":"k","secretValue":null}}`, "secretValue"},
		{"empty object value", `{"_secrets":{"secretKey":"k","secretValue":{}}}`, "secretValue"},
		{"not json", `{"_secrets":`, "_secrets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := task.Execute(ctx, rotRequest(e.svc, c.input))
			if r.Status != tasks.FailedTerminal {
				t.Fatalf("status %s, want %s (%s)", r.Status, tasks.FailedTerminal, r.Reason)
			}
			if !strings.Contains(r.Reason, c.want) {
				t.Fatalf("reason %q does not name %s", r.Reason, c.want)
			}
		})
	}
	page, err := e.raw.List(ctx, store.ListOptions{})
	if err != nil || len(page.Names) != 0 {
		t.Fatalf("failed inputs wrote secrets: %v %v", page, err)
	}
	if errs := task.Validate(json.RawMessage(`{"inputParameters":{"_secrets":{"secretKey":"k"}}}`)); len(errs) != 1 || !strings.Contains(errs[0].Error(), "secretValue") {
		t.Fatalf("Validate = %v", errs)
	}
	if errs := task.Validate(json.RawMessage(`{"inputParameters":{"_secrets":{"secretKey":"k","secretValue":"${a.output.b}"}}}`)); len(errs) != 0 {
		t.Fatalf("Validate of a valid definition = %v", errs)
	}
}

func TestUpdateSecretForbidden(t *testing.T) {
	ctx := context.Background()
	raw := memory.New()
	if _, err := raw.Put(ctx, &store.Secret{Name: "prod/token", Value: json.RawMessage(`"existing-value-xyz"`)}); err != nil {
		t.Fatal(err)
	}
	reader := store.Principal{Name: "ci", Scopes: []string{"secrets:get:*"}}
	for _, name := range []string{"prod/token", "prod/absent"} {
		e := newRotEnv(t, raw, reader)
		r := tasks.NewUpdateSecret().Execute(ctx, rotRequest(e.svc, rotInput(name, "attacker-value-123")))
		if r.Status != tasks.FailedTerminal || r.Reason != "forbidden: cannot set secret "+name {
			t.Fatalf("%s: %s %q", name, r.Status, r.Reason)
		}
	}
	sec, err := raw.Get(ctx, "prod/token")
	if err != nil || string(sec.Value) != `"existing-value-xyz"` || sec.Version != 1 {
		t.Fatalf("secret changed: %v", err)
	}
	// A set-only principal (no get) can still rotate: the write is then
	// unconditional.
	writer := store.Principal{Name: "rotator", Scopes: []string{"secrets:set:prod/*"}}
	e := newRotEnv(t, raw, writer)
	if r := tasks.NewUpdateSecret().Execute(ctx, rotRequest(e.svc, rotInput("prod/token", "rotated-value-456"))); r.Status != tasks.Completed {
		t.Fatalf("set-only: %s %s", r.Status, r.Reason)
	}
	if sec, _ := raw.Get(ctx, "prod/token"); sec.Version != 2 {
		t.Fatalf("version %d", sec.Version)
	}
}

func TestUpdateSecretNoStore(t *testing.T) {
	r := tasks.NewUpdateSecret().Execute(context.Background(), rotRequest(&tasks.Services{}, rotInput("k", "v-1234")))
	if r.Status != tasks.FailedTerminal || !strings.Contains(r.Reason, `"k"`) {
		t.Fatalf("%s %q", r.Status, r.Reason)
	}
}

// TestUpdateSecretOutlastsOtherWriters: each conflict is another writer's
// version landing, so the default loop keeps retrying past
// DefaultRotateAttempts conflicts and lands its version after the others.
func TestUpdateSecretOutlastsOtherWriters(t *testing.T) {
	ctx := context.Background()
	raw := memory.New(memory.WithHistory(100))
	e := newRotEnv(t, raw, store.LocalPrincipal)
	racer := &rotRacer{SecretAccess: e.svc.Secrets, raw: raw, limit: tasks.DefaultRotateAttempts + 5}
	e.svc.Secrets = racer
	r := tasks.NewUpdateSecret(tasks.WithRotateBackoff(time.Millisecond)).
		Execute(ctx, rotRequest(e.svc, rotInput("hot", "patient-value-1234")))
	if r.Status != tasks.Completed {
		t.Fatalf("%s %q", r.Status, r.Reason)
	}
	cur, err := raw.Get(ctx, "hot")
	if err != nil || string(cur.Value) != `"patient-value-1234"` || cur.Version != int64(racer.limit)+1 {
		t.Fatalf("current: %v %+v", err, cur)
	}
}

// TestUpdateSecretGivesUp: a loop that keeps losing ends with a clear,
// retryable failure naming the secret, never its value — after
// WithRotateAttempts attempts when set, after the timeout while other
// writers keep landing, after DefaultRotateAttempts conflicts in a row while
// none does.
func TestUpdateSecretGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		task *tasks.UpdateSecret
		wrap func(tasks.SecretAccess, store.Store) tasks.SecretAccess
		want string
	}{{
		name: "hard bound",
		task: tasks.NewUpdateSecret(tasks.WithRotateAttempts(3), tasks.WithRotateBackoff(time.Millisecond)),
		wrap: func(s tasks.SecretAccess, raw store.Store) tasks.SecretAccess {
			return &rotRacer{SecretAccess: s, raw: raw}
		},
		want: "(3 attempts): ",
	}, {
		name: "endless writers, timeout",
		task: tasks.NewUpdateSecret(tasks.WithRotateTimeout(50*time.Millisecond), tasks.WithRotateBackoff(time.Millisecond)),
		wrap: func(s tasks.SecretAccess, raw store.Store) tasks.SecretAccess {
			return &rotRacer{SecretAccess: s, raw: raw}
		},
		want: "attempts): ",
	}, {
		name: "no progress",
		task: tasks.NewUpdateSecret(tasks.WithRotateBackoff(time.Millisecond)),
		wrap: func(s tasks.SecretAccess, _ store.Store) tasks.SecretAccess { return &rotStuck{SecretAccess: s} },
		want: fmt.Sprintf("(%d attempts, the last %d without another writer's version landing)",
			tasks.DefaultRotateAttempts, tasks.DefaultRotateAttempts),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			raw := memory.New()
			e := newRotEnv(t, raw, store.LocalPrincipal)
			e.svc.Secrets = tc.wrap(e.svc.Secrets, raw)
			r := tc.task.Execute(ctx, rotRequest(e.svc, rotInput("hot", "loser-value-1234")))
			if r.Status != tasks.Failed || !strings.Contains(r.Reason, `"hot"`) || !strings.Contains(r.Reason, tc.want) {
				t.Fatalf("%s %q", r.Status, r.Reason)
			}
			if strings.Contains(r.Reason, "loser-value") {
				t.Fatal("reason leaks the value")
			}
		})
	}
}

// rotRacer lands another writer's version between each read and write,
// limit times (0: always).
type rotRacer struct {
	tasks.SecretAccess
	raw   store.Store
	n     int
	limit int
}

func (r *rotRacer) Get(ctx context.Context, name string) (*store.Secret, error) {
	s, err := r.SecretAccess.Get(ctx, name)
	if r.limit == 0 || r.n < r.limit {
		r.n++
		_, _ = r.raw.Put(ctx, &store.Secret{Name: name, Value: json.RawMessage(fmt.Sprintf(`"other-writer-%d"`, r.n))})
	}
	return s, err
}

// rotStuck refuses every write with a conflict and changes nothing.
type rotStuck struct{ tasks.SecretAccess }

func (r *rotStuck) Put(_ context.Context, name string, _ json.RawMessage, ifVersion int64) (*store.Secret, error) {
	return nil, fmt.Errorf("secret %q: %w: expected version %d", name, store.ErrConflict, ifVersion)
}

func TestPreviousVersionGraceWindow(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	raw := memory.New(memory.WithClock(func() time.Time { return clock }))
	e := newRotEnv(t, raw, store.LocalPrincipal)
	task := tasks.NewUpdateSecret()
	for _, v := range []string{"token-one-1111", "token-two-2222"} {
		if r := task.Execute(ctx, rotRequest(e.svc, rotInput("tok", v))); r.Status != tasks.Completed {
			t.Fatal(r.Reason)
		}
	}
	view := store.NewRunView(raw, store.LocalPrincipal, "", "")
	cur, err := view.Secret(ctx, "tok")
	if err != nil || string(cur) != `"token-two-2222"` {
		t.Fatalf("current = %s %v", cur, err)
	}
	prev, err := view.Previous(ctx, "tok", time.Minute, clock.Add(30*time.Second))
	if err != nil || string(prev.Value) != `"token-one-1111"` {
		t.Fatalf("previous within grace: %v", err)
	}
	if _, err := view.Previous(ctx, "tok", time.Minute, clock.Add(2*time.Minute)); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("after grace: %v", err)
	}
	other := store.NewRunView(raw, store.Principal{Name: "x", Scopes: []string{"secrets:get:other"}}, "", "")
	if _, err := other.Previous(ctx, "tok", time.Minute, clock); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("without get: %v", err)
	}
}

// rotateConcurrently runs n UPDATE_SECRET tasks on one secret at once, each
// as its own run (own RunView and masker), and checks the history holds
// exactly n new versions with every value present once.
func rotateConcurrently(t *testing.T, raw store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	seed := newRotEnv(t, raw, store.LocalPrincipal)
	if r := tasks.NewUpdateSecret().Execute(ctx, rotRequest(seed.svc, rotInput("shared/token", "seed-value-0000"))); r.Status != tasks.Completed {
		t.Fatal(r.Reason)
	}
	// A compare-and-swap loses only to another rotation's write landing
	// between its read and its write, and each of the other n-1 rotations
	// writes once: the default loop, which retries while other writers make
	// progress, must land all n whatever the scheduling and the load.
	task := tasks.NewUpdateSecret()
	var wg sync.WaitGroup
	var puts, conflicts atomic.Int64
	results := make([]tasks.Result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newRotEnv(t, raw, store.LocalPrincipal)
			e.svc.Secrets = &rotCounter{SecretAccess: e.svc.Secrets, puts: &puts, conflicts: &conflicts}
			results[i] = task.Execute(ctx, rotRequest(e.svc, rotInput("shared/token", fmt.Sprintf("rotated-value-%04d", i))))
		}()
	}
	wg.Wait()
	t.Logf("%d rotations: %d compare-and-swap writes, %d conflicts retried", n, puts.Load(), conflicts.Load())
	for i, r := range results {
		if r.Status != tasks.Completed {
			t.Fatalf("rotation %d: %s %s", i, r.Status, r.Reason)
		}
	}
	hist, err := raw.History(ctx, "shared/token", n+5)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != n+1 {
		t.Fatalf("history has %d versions, want %d", len(hist), n+1)
	}
	seen := map[string]bool{}
	for i, h := range hist {
		if want := int64(n + 1 - i); h.Version != want {
			t.Fatalf("history[%d] is version %d, want %d", i, h.Version, want)
		}
		seen[string(h.Value)] = true
	}
	for i := range n {
		if v := fmt.Sprintf(`"rotated-value-%04d"`, i); !seen[v] {
			t.Fatalf("update %s lost", v)
		}
	}
	if !seen[`"seed-value-0000"`] {
		t.Fatal("seed version missing")
	}
}

// rotCounter counts writes and conflicts through a real RunView.
type rotCounter struct {
	tasks.SecretAccess
	puts, conflicts *atomic.Int64
}

func (c *rotCounter) Put(ctx context.Context, name string, value json.RawMessage, ifVersion int64) (*store.Secret, error) {
	c.puts.Add(1)
	s, err := c.SecretAccess.Put(ctx, name, value, ifVersion)
	if errors.Is(err, store.ErrConflict) {
		c.conflicts.Add(1)
	}
	return s, err
}

func TestUpdateSecretConcurrentMemory(t *testing.T) {
	rotateConcurrently(t, memory.New(memory.WithHistory(25)), 20)
}

func TestUpdateSecretConcurrentBolt(t *testing.T) {
	rotateConcurrently(t, boltStore(t, bolt.WithHistory(25)), 20)
}

// TestUpdateSecretConcurrentRedis runs against a real redis-server
// (skipped locally without one, a failure under CI=true).
func TestUpdateSecretConcurrentRedis(t *testing.T) {
	addr := redistest.Start(t)
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 32})
	s, err := redisstore.New(client, ring, redisstore.WithHistory(25))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rotateConcurrently(t, s, 20)
}

// FuzzUpdateSecretInput: hostile input never panics and, without a store,
// always fails terminally with a reason naming UPDATE_SECRET.
func FuzzUpdateSecretInput(f *testing.F) {
	for _, s := range []string{rotInput("k", "v-1234"), `{"_secrets":{"secretKey":"k"}}`, `{"_secrets":[]}`, `nul`, `{"_secrets":{"secretKey":"k","secretValue":{"a":[1,{"b":null}]}}}`} {
		f.Add(s)
	}
	task := tasks.NewUpdateSecret()
	f.Fuzz(func(t *testing.T, in string) {
		r := task.Execute(context.Background(), rotRequest(&tasks.Services{}, in))
		if r.Status != tasks.FailedTerminal || !strings.HasPrefix(r.Reason, "UPDATE_SECRET") {
			t.Fatalf("%s %q", r.Status, r.Reason)
		}
	})
}

// BenchmarkRotate compares UPDATE_SECRET (read version, compare-and-swap
// write, masker registration) with a bare unconditional Put, on memory and
// bolt, uncontended.
func BenchmarkRotate(b *testing.B) {
	ctx := context.Background()
	for _, backend := range []string{"memory", "bolt"} {
		newStore := func(b *testing.B) store.Store {
			if backend == "bolt" {
				return boltStore(b)
			}
			return memory.New()
		}
		b.Run("backend="+backend+"/impl=update-secret-cas", func(b *testing.B) {
			e := newRotEnv(b, newStore(b), store.LocalPrincipal)
			task := tasks.NewUpdateSecret()
			in := rotInput("bench/token", "bench-token-value-123456")
			b.ReportAllocs()
			for b.Loop() {
				if r := task.Execute(ctx, rotRequest(e.svc, in)); r.Status != tasks.Completed {
					b.Fatal(r.Reason)
				}
			}
		})
		b.Run("backend="+backend+"/impl=put-unconditional", func(b *testing.B) {
			s := newStore(b)
			v := json.RawMessage(`"bench-token-value-123456"`)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Put(ctx, &store.Secret{Name: "bench/token", Value: v}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ExampleUpdateSecret rotates a token from inside a run: the task writes a
// new version, and the value it replaced stays addressable for a grace
// period.
func ExampleUpdateSecret() {
	ctx := context.Background()
	raw := memory.New()
	svc := &tasks.Services{
		Masker:  masking.New(),
		Secrets: store.NewRunView(raw, store.LocalPrincipal, "", ""),
	}
	task := tasks.NewUpdateSecret()
	for _, token := range []string{"token-issued-first", "token-issued-second"} {
		in := `{"_secrets":{"secretKey":"my_secret_holding_a_token","secretValue":"` + token + `"}}`
		res := task.Execute(ctx, &tasks.Request{RefName: "update_secret_task_ref", Input: json.RawMessage(in), Services: svc})
		fmt.Println(res.Status, string(res.Output))
	}
	view := store.NewRunView(raw, store.LocalPrincipal, "", "")
	cur, _ := view.Get(ctx, "my_secret_holding_a_token")
	prev, _ := view.Previous(ctx, "my_secret_holding_a_token", time.Hour, time.Now())
	fmt.Println("current version", cur.Version, "previous version", prev.Version)
	fmt.Println(string(svc.Masker.Mask([]byte("Authorization: Bearer token-issued-second"))))
	// Output:
	// COMPLETED {}
	// COMPLETED {}
	// current version 2 previous version 1
	// Authorization: Bearer ***
}
