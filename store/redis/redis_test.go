package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/redis"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/store/storetest"
)

func ring(t testing.TB) *seal.Keyring {
	t.Helper()
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var prefixes atomic.Int64

func newStore(t testing.TB, client goredis.UniversalClient, r *seal.Keyring, opts ...redis.Option) *redis.Store {
	t.Helper()
	opts = append([]redis.Option{redis.WithPrefix(fmt.Sprintf("t%d", prefixes.Add(1)))}, opts...)
	s, err := redis.New(client, r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func client(addr string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1, PoolSize: 64})
}

func TestConformance(t *testing.T) {
	addr := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, client(addr), ring(t)) })
}

// TestConformanceOnCluster runs the suite against a one-node Redis Cluster
// through a ClusterClient: any multi-key command whose keys are not all
// under the store's hash tag fails there with CROSSSLOT.
func TestConformanceOnCluster(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Cluster())
	storetest.Run(t, func(t *testing.T) store.Store {
		c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{srv.Addr()}, PoolSize: 64})
		return newStore(t, c, ring(t))
	})
}

// allKeys returns the raw contents of every key: DUMP plus a type-specific
// read, as an operator with redis-cli would see them.
func allKeys(t *testing.T, c *goredis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		dump, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString(dump)
		switch c.Type(ctx, k).Val() {
		case "string":
			b.WriteString(c.Get(ctx, k).Val())
		case "list":
			b.WriteString(strings.Join(c.LRange(ctx, k, 0, -1).Val(), "\n"))
		case "zset":
			b.WriteString(strings.Join(c.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "set":
			b.WriteString(strings.Join(c.SMembers(ctx, k).Val(), "\n"))
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				fmt.Fprint(&b, m.Values)
			}
		}
		out[k] = b.String()
	}
	return out
}

func TestNoPlaintextInRedis(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	s := newStore(t, client(addr), ring(t))
	plain := []string{"redis-plain-A1", "AKIAREDISPLAIN", "redis-bundle-pass", "redis-env-scoped", "redis-old-version"}
	puts := []struct {
		scope store.Scope
		name  string
		value string
	}{
		{store.Scope{}, "api_token", `"redis-old-version"`},
		{store.Scope{}, "api_token", `"redis-plain-A1"`},
		{store.Scope{}, "aws", `{"ACCESS_KEY":"AKIAREDISPLAIN"}`},
		{store.Scope{}, "ci:bundle", `{"env_vars":[{"name":"P","value":"redis-bundle-pass"}]}`},
		{store.Scope{Project: "shop", Environment: "prod"}, "db/password", `"redis-env-scoped"`},
	}
	for _, p := range puts {
		if _, err := s.InScope(p.scope).Put(ctx, &store.Secret{Name: p.name, Value: json.RawMessage(p.value), Tags: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetTags(ctx, "api_token", map[string]string{"env": "prod"}); err != nil {
		t.Fatal(err)
	}
	raw := allKeys(t, client(addr))
	if len(raw) < 8 {
		t.Fatalf("expected record, history, index and scope keys; got %d keys", len(raw))
	}
	for k, v := range raw {
		if !strings.HasPrefix(k, "{t") {
			t.Errorf("key %q lacks the hash tag", k)
		}
		for _, p := range plain {
			if strings.Contains(v, p) || strings.Contains(k, p) {
				t.Errorf("key %q holds plaintext %q", k, p)
			}
		}
	}
}

func TestWrongKeyIsRefusedBeforeAnyWrite(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	s := newStore(t, client(addr), ring(t), redis.WithPrefix("shared"))
	if _, err := s.Put(ctx, &store.Secret{Name: "alpha", Value: json.RawMessage(`"value-of-alpha"`)}); err != nil {
		t.Fatal(err)
	}
	c := client(addr)
	defer c.Close()
	before := allKeys(t, c)
	_, err := redis.New(client(addr), ring(t), redis.WithPrefix("shared"))
	if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), "same WFRUN_MASTER_KEY") {
		t.Fatalf("wrong key: %v", err)
	}
	after := allKeys(t, c)
	if len(before) != len(after) {
		t.Fatalf("a refused open changed Redis: %d keys before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("a refused open changed %s", k)
		}
	}
}

func TestInvalidationOnEveryWrite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addr := redistest.Start(t)
	s := newStore(t, client(addr), ring(t))
	inv, err := s.Invalidations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, &store.Secret{Name: "x:1", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.InScope(store.Scope{Project: "p"}).Delete(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTags(ctx, "x:1", map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	want := []store.Key{{Name: "x:1"}, {Scope: store.Scope{Project: "p"}, Name: "y"}, {Name: "x:1"}}
	for i, w := range want {
		select {
		case got := <-inv:
			if got != w {
				t.Fatalf("invalidation %d = %v, want %v", i, got, w)
			}
		case <-ctx.Done():
			t.Fatalf("invalidation %d not received", i)
		}
	}
}

func TestRedisDownIsUnavailableAndNothingIsLost(t *testing.T) {
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.Persistent())
	r := ring(t)
	s := newStore(t, client(srv.Addr()), r)
	if _, err := s.Put(ctx, &store.Secret{Name: "keep", Value: json.RawMessage(`"before"`)}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, err := s.Put(ctx, &store.Secret{Name: "keep", Value: json.RawMessage(`"during-outage-value"`)})
	if !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), "during-outage-value") {
		t.Fatalf("put while down: %v", err)
	}
	if _, err := s.Get(ctx, "keep"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("get while down: %v", err)
	}
	if _, _, err := s.GetMany(ctx, []string{"keep"}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("getmany while down: %v", err)
	}
	if _, err := s.List(ctx, store.ListOptions{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("list while down: %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("failing took %s", time.Since(start))
	}
	srv.Restart()
	got, err := s.Get(ctx, "keep")
	if err != nil || string(got.Value) != `"before"` || got.Version != 1 {
		t.Fatalf("after restart: %v %v", got, err)
	}
}

// TestRedisStopsMidOperation kills Redis while writers run: every write that
// was acknowledged survives, every failure is ErrUnavailable, and every
// stored version decrypts.
func TestRedisStopsMidOperation(t *testing.T) {
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.Persistent())
	s := newStore(t, client(srv.Addr()), ring(t), redis.WithHistory(1000))
	var acked atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := 1; ; i++ {
			_, err := s.Put(ctx, &store.Secret{Name: "counter", Value: json.RawMessage(fmt.Sprint(i))})
			if err != nil {
				done <- err
				return
			}
			acked.Store(int64(i))
		}
	}()
	for acked.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.Stop()
	err := <-done
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write during stop: %v", err)
	}
	srv.Restart()
	got, err := s.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	_ = json.Unmarshal(got.Value, &n)
	// The write in flight at the kill may or may not have committed.
	if n < acked.Load() || n > acked.Load()+1 || got.Version != n {
		t.Fatalf("after crash: value %d version %d, acknowledged %d", n, got.Version, acked.Load())
	}
	h, err := s.History(ctx, "counter", 0)
	if err != nil || int64(len(h)) != n {
		t.Fatalf("history after crash: %d entries, %v", len(h), err)
	}
	for i, v := range h {
		if v.Version != n-int64(i) {
			t.Fatalf("history[%d] version %d", i, v.Version)
		}
	}
}

func TestRekeyRedis(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	oldKey, _ := seal.GenerateKey()
	newKey, _ := seal.GenerateKey()
	oldRing, _ := seal.NewKeyring(oldKey)
	s := newStore(t, client(addr), oldRing)
	for i := range 3 {
		if _, err := s.Put(ctx, &store.Secret{Name: "r", Value: json.RawMessage(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := strings.Trim(strings.SplitN(s.RedisKey("x"), ":", 2)[0], "{}")
	both, _ := seal.NewKeyring(newKey, seal.WithPreviousKeys(oldKey))
	s2, _ := redis.New(client(addr), both, redis.WithPrefix(prefix))
	defer s2.Close()
	n, err := s2.Rekey(ctx)
	if err != nil || n != 4 { // the current record and three kept versions
		t.Fatalf("rekey: %d %v", n, err)
	}
	onlyNew, _ := seal.NewKeyring(newKey)
	s3, _ := redis.New(client(addr), onlyNew, redis.WithPrefix(prefix))
	defer s3.Close()
	h, err := s3.History(ctx, "r", 0)
	if err != nil || len(h) != 3 || string(h[2].Value) != "0" {
		t.Fatalf("after rekey: %v %v", h, err)
	}
	if n, err := s3.Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("second rekey: %d %v", n, err)
	}
}

// counter counts round trips and commands through a go-redis hook.
type counter struct{ trips, cmds atomic.Int64 }

func (c *counter) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (c *counter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func TestRunViewResolvesInOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	c := client(addr)
	cnt := &counter{}
	c.AddHook(cnt)
	r, pfx := ring(t), fmt.Sprintf("rt%d", prefixes.Add(1))
	s := newStore(t, c, r, redis.WithPrefix(pfx))
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("svc/%d/token", i)
		sc := []store.Scope{{}, {Project: "shop"}, {Project: "shop", Environment: "prod"}}[i%3]
		if _, err := s.InScope(sc).Put(ctx, &store.Secret{Name: names[i], Value: json.RawMessage(fmt.Sprintf(`"v%d"`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	p := store.Principal{Name: "run", Scopes: []string{"secrets:get:svc/*"}}
	resolve := func(s *redis.Store, run string, want string) int64 {
		t.Helper()
		rv := store.NewRunView(s, p, "shop", "prod")
		before := cnt.trips.Load()
		vals, errs, err := rv.Secrets(store.ForRun(ctx, run, "task"), names)
		if err != nil || len(errs) != 0 || len(vals) != 20 || string(vals["svc/7/token"]) != want {
			t.Fatalf("Secrets: %v %v", errs, err)
		}
		return cnt.trips.Load() - before
	}
	// The reads of every candidate key and the audit record of the run's
	// reads, conditional on what was read, are one script.
	if trips := resolve(s, "run-1", `"v7"`); trips != 1 {
		t.Fatalf("RunView.Secrets for 20 names over 3 scopes took %d round trips, want 1", trips)
	}
	// Another process changes a secret: the next resolution sees the new
	// value (its audit record is not committed against the old one).
	oc := client(addr)
	oc.AddHook(cnt)
	other := newStore(t, oc, r, redis.WithPrefix(pfx))
	if _, err := other.InScope(store.Scope{Project: "shop"}).Put(ctx, &store.Secret{Name: "svc/7/token", Value: json.RawMessage(`"v7b"`)}); err != nil {
		t.Fatal(err)
	}
	if trips := resolve(s, "run-2", `"v7b"`); trips != 2 {
		t.Fatalf("after a change by another process: %d round trips, want 2 (the stale prediction is refused)", trips)
	}
	if trips := resolve(s, "run-3", `"v7b"`); trips != 1 {
		t.Fatalf("again: %d round trips, want 1", trips)
	}
	// A process that has never read them: one trip to learn them and the
	// audit head, then one per task.
	if trips := resolve(other, "run-4", `"v7b"`); trips > 3 {
		t.Fatalf("cold process: %d round trips, want at most 3", trips)
	}
	if trips := resolve(other, "run-5", `"v7b"`); trips != 1 {
		t.Fatalf("warm second process: %d round trips, want 1", trips)
	}
	n, err := s.VerifyAudit(ctx)
	if err != nil {
		t.Fatalf("VerifyAudit after %d records: %v", n, err)
	}
	for _, run := range []string{"run-1", "run-2", "run-3", "run-4", "run-5"} {
		evs, err := s.ReadAudit(ctx, store.AuditFilter{Run: run})
		if err != nil || len(evs) != 20 {
			t.Fatalf("audit of %s: %d events, %v; want one per name", run, len(evs), err)
		}
		for _, e := range evs {
			if e.Op != store.OpGet || e.Outcome != store.OutcomeAllowed || e.Task != "task" || e.Principal != "run" || e.Version == 0 {
				t.Fatalf("audit of %s: %+v", run, e)
			}
			if e.Name == "svc/7/token" && (run == "run-1") != (e.Version == 1) {
				t.Fatalf("audit of %s records version %d of the changed secret", run, e.Version)
			}
		}
	}
}

// BenchmarkGetMany fetches 1, 10 and 100 secrets per call from a real Redis
// (GetMany; RunView: a run resolving them over three scopes with its audited reads),
// against the peer approach of one GET per name, and reports the round trips
// and commands per call (from a go-redis hook) and Redis's own count of
// commands (INFO commandstats).
func BenchmarkGetMany(b *testing.B) {
	ctx := context.Background()
	addr := redistest.Start(b)
	c := client(addr)
	cnt := &counter{}
	c.AddHook(cnt)
	s := newStore(b, c, ring(b))
	const total = 100
	names := make([]string, total)
	for i := range names {
		names[i] = fmt.Sprintf("bench/secret-%03d", i)
		if _, err := s.Put(ctx, &store.Secret{Name: names[i], Value: json.RawMessage(`"` + strings.Repeat("x", 40) + `"`)}); err != nil {
			b.Fatal(err)
		}
	}
	admin := client(addr)
	defer admin.Close()
	serverCalls := func() int64 {
		info := admin.Info(ctx, "commandstats").Val()
		var sum int64
		for _, line := range strings.Split(info, "\n") {
			if !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_info") {
				continue
			}
			_, rest, _ := strings.Cut(line, "calls=")
			var n int64
			fmt.Sscanf(rest, "%d", &n)
			sum += n
		}
		return sum
	}
	rv := store.NewRunView(s, store.Principal{Name: "bench", Scopes: []string{"secrets:get:bench/*"}}, "shop", "prod")
	for _, n := range []int{1, 10, 100} {
		for _, mode := range []string{"GetMany", "GetLoop", "RunView"} {
			b.Run(fmt.Sprintf("%s/n=%d", mode, n), func(b *testing.B) {
				batch := names[:n]
				t0, c0, s0 := cnt.trips.Load(), cnt.cmds.Load(), serverCalls()
				b.ResetTimer()
				for b.Loop() {
					var found map[string]*store.Secret
					var err error
					switch mode {
					case "GetMany":
						found, _, err = s.GetMany(ctx, batch)
					case "RunView":
						// A task's resolution: every name over the run's
						// three scopes, with its audited reads.
						var vals map[string][]byte
						var errs map[string]error
						vals, errs, err = rv.Secrets(store.ForRun(ctx, "bench", "task"), batch)
						if err == nil && len(errs) > 0 {
							err = fmt.Errorf("%d names failed", len(errs))
						}
						found = make(map[string]*store.Secret, len(vals))
						for k := range vals {
							found[k] = nil
						}
					default:
						found = make(map[string]*store.Secret, n)
						for _, name := range batch {
							var sec *store.Secret
							if sec, err = s.Get(ctx, name); err != nil {
								break
							}
							found[name] = sec
						}
					}
					if err != nil || len(found) != n {
						b.Fatalf("got %d of %d: %v", len(found), n, err)
					}
				}
				b.StopTimer()
				calls := float64(b.N)
				b.ReportMetric(float64(cnt.trips.Load()-t0)/calls, "roundtrips/op")
				b.ReportMetric(float64(cnt.cmds.Load()-c0)/calls, "cmds/op")
				b.ReportMetric(float64(serverCalls()-s0)/calls, "servercmds/op")
			})
		}
	}
}

func TestAttacks(t *testing.T) {
	addr := redistest.Start(t)
	storetest.RunAttacks(t, func(t *testing.T) storetest.Target {
		prefix := fmt.Sprintf("t%d", prefixes.Add(1))
		return storetest.Target{
			Storage: func(t *testing.T) store.Storage {
				st, err := redis.NewStorage(client(addr), prefix)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close() })
				return st
			},
			Dump: func(t *testing.T) []byte {
				c := client(addr)
				defer c.Close()
				var b strings.Builder
				for k, v := range allKeys(t, c) {
					b.WriteString(k + "\n" + v + "\n")
				}
				return []byte(b.String())
			},
		}
	})
}

func TestAuditTampering(t *testing.T) {
	addr := redistest.Start(t)
	target := func(t *testing.T) storetest.Target {
		prefix := fmt.Sprintf("t%d", prefixes.Add(1))
		return storetest.Target{Storage: func(t *testing.T) store.Storage {
			st, err := redis.NewStorage(client(addr), prefix)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		}}
	}
	storetest.RunAuditTampering(t, target, func(t *testing.T, st store.Storage, entries []store.Write) {
		ctx := context.Background()
		c := client(addr)
		defer c.Close()
		// The trail is a stream: an attacker rewrites it whole.
		if err := c.Del(ctx, st.(*redis.Storage).AuditStream()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(ctx, nil, entries); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadCommit reads more keys than one MGET chunk of the script and
// checks that a failed condition commits nothing and still returns the
// records, while a holding one commits.
func TestReadCommit(t *testing.T) {
	ctx := context.Background()
	st, err := redis.NewStorage(client(redistest.Start(t)), "rc")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Commit(ctx, nil, []store.Write{{Key: "c/o/k0", Value: []byte("a")}, {Key: "c/o/k777", Value: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 1203)
	for i := range keys {
		keys[i] = fmt.Sprintf("c/o/k%d", i)
	}
	for _, tc := range []struct {
		name  string
		cond  []byte
		write bool
	}{
		{"condition fails", []byte("stale"), false},
		{"condition holds", []byte("b"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := st.ReadCommit(ctx, keys, []store.Cond{{Key: "c/o/k777", Value: tc.cond}}, []store.Write{{Key: "c/o/new", Value: []byte("n")}})
			if err != nil || ok != tc.write || len(got) != len(keys) {
				t.Fatalf("ReadCommit: %d records, committed %v, %v", len(got), ok, err)
			}
			for i, v := range got {
				want := map[int]string{0: "a", 777: "b"}[i]
				if string(v) != want || (want == "") != (v == nil) {
					t.Fatalf("record %d = %q, want %q", i, v, want)
				}
			}
			now, err := st.Get(ctx, "c/o/new")
			if err != nil || (now[0] != nil) != tc.write {
				t.Fatalf("after ReadCommit, the write is there: %v (%v), want %v", now[0] != nil, err, tc.write)
			}
		})
	}
}
