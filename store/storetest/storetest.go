package storetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store"
)

// Factory returns a fresh, empty store for one subtest.
type Factory func(t *testing.T) store.Store

func str(s string) json.RawMessage { b, _ := json.Marshal(s); return b }

func mustPut(t *testing.T, s store.Store, sec *store.Secret, opts ...store.PutOption) *store.Secret {
	t.Helper()
	out, err := s.Put(context.Background(), sec, opts...)
	if err != nil {
		t.Fatalf("Put %q: %v", sec.Name, err)
	}
	return out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// noLeak fails if err's text contains any of the secret values.
func noLeak(t *testing.T, err error, values ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range values {
		if v != "" && strings.Contains(err.Error(), v) {
			t.Fatalf("error message leaks a secret value: %v", err)
		}
	}
}

// Run runs the full suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	ctx := context.Background()
	open := func(t *testing.T) store.Store {
		s := newStore(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}

	t.Run("SetTwiceThenGetReturnsLatest", func(t *testing.T) {
		s := open(t)
		v1 := mustPut(t, s, &store.Secret{Name: "captain:abc", Value: json.RawMessage(`{"data":"foo"}`)})
		if v1.Version != 1 || v1.CreatedAt.IsZero() || !v1.UpdatedAt.Equal(v1.CreatedAt) {
			t.Fatalf("first put: %+v", v1)
		}
		v2 := mustPut(t, s, &store.Secret{Name: "captain:abc", Value: json.RawMessage(`{"data":"bar"}`)})
		if v2.Version != 2 || !v2.CreatedAt.Equal(v1.CreatedAt) || v2.UpdatedAt.Before(v1.UpdatedAt) {
			t.Fatalf("second put: v%d created %v/%v", v2.Version, v2.CreatedAt, v1.CreatedAt)
		}
		got, err := s.Get(ctx, "captain:abc")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Value) != `{"data":"bar"}` || got.Version != 2 || got.Name != "captain:abc" {
			t.Fatalf("get after update: %s v%d", got.Value, got.Version)
		}
		if !got.CreatedAt.Equal(v1.CreatedAt) || !got.UpdatedAt.Equal(v2.UpdatedAt) {
			t.Fatalf("timestamps not stored: %v %v", got.CreatedAt, got.UpdatedAt)
		}
	})

	t.Run("ValuesRoundTripExactly", func(t *testing.T) {
		s := open(t)
		for i, v := range []string{`"plain"`, `{"ACCESS_KEY":"AK","SECRET_ACCESS_KEY":"SK"}`, `42`, `true`, `null`, `[1,"two",{"x":3}]`,
			`"line1\nline2 \"quoted\" ${workflow.secrets.x}"`, `{"env_vars":[{"name":"A","value":"1"}],"files":[{"path":"k.pem","content":"PEM"}]}`} {
			name := fmt.Sprintf("v/%d", i)
			mustPut(t, s, &store.Secret{Name: name, Value: json.RawMessage(v)})
			got, err := s.Get(ctx, name)
			if err != nil || string(got.Value) != v {
				t.Fatalf("round trip %s: got %s, %v", v, got.Value, err)
			}
		}
	})

	t.Run("GetMissingIsNotFound", func(t *testing.T) {
		s := open(t)
		got, err := s.Get(ctx, "no-such-secret")
		wantErr(t, "get missing", err, store.ErrNotFound)
		if got != nil {
			t.Fatal("missing secret returned a value")
		}
		if !strings.Contains(err.Error(), "no-such-secret") {
			t.Fatalf("error does not name the secret: %v", err)
		}
		_, err = s.History(ctx, "no-such-secret", 0)
		wantErr(t, "history missing", err, store.ErrNotFound)
		wantErr(t, "settags missing", s.SetTags(ctx, "no-such-secret", map[string]string{"a": "b"}), store.ErrNotFound)
	})

	t.Run("DeleteIsIdempotentAndRemovesHistory", func(t *testing.T) {
		s := open(t)
		if err := s.Delete(ctx, "never-existed"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
		mustPut(t, s, &store.Secret{Name: "d", Value: str("one")})
		mustPut(t, s, &store.Secret{Name: "d", Value: str("two")})
		mustPut(t, s, &store.Secret{Name: "keep", Value: str("k")})
		if err := s.Delete(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "d"); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		_, err := s.Get(ctx, "d")
		wantErr(t, "get deleted", err, store.ErrNotFound)
		_, err = s.History(ctx, "d", 0)
		wantErr(t, "history of deleted", err, store.ErrNotFound)
		if got, err := s.Get(ctx, "keep"); err != nil || string(got.Value) != `"k"` {
			t.Fatalf("other secret disturbed: %v", err)
		}
		p, err := s.List(ctx, store.ListOptions{})
		if err != nil || !slices.Equal(p.Names, []string{"keep"}) {
			t.Fatalf("list after delete: %v %v", p, err)
		}
		// Recreating starts a new life.
		again := mustPut(t, s, &store.Secret{Name: "d", Value: str("three")}, store.IfVersion(0))
		if again.Version != 1 {
			t.Fatalf("recreated version %d", again.Version)
		}
	})

	t.Run("ExpiredReadsAsExpiredNeverValue", func(t *testing.T) {
		s := open(t)
		past := time.Now().Add(-2 * time.Hour)
		mustPut(t, s, &store.Secret{Name: "expireKey", Value: str("expired-value-x1"), Expires: past, Tags: map[string]string{"env": "prod"}})
		mustPut(t, s, &store.Secret{Name: "saveKey", Value: json.RawMessage(`{"message":"keep this secret!!","list":["hello","world"]}`), Expires: time.Now().Add(2 * time.Hour)})
		got, err := s.Get(ctx, "expireKey")
		wantErr(t, "get expired", err, store.ErrExpired)
		if errors.Is(err, store.ErrNotFound) {
			t.Fatal("expired must be distinct from not found")
		}
		noLeak(t, err, "expired-value-x1")
		if got != nil && got.Value != nil {
			t.Fatal("expired secret returned its value")
		}
		if got != nil && got.Tags["env"] != "prod" {
			t.Fatalf("expired metadata lost tags: %v", got.Tags)
		}
		if got, err := s.Get(ctx, "saveKey"); err != nil || !strings.Contains(string(got.Value), "keep this secret!!") {
			t.Fatalf("live secret: %v", err)
		}
		p, err := s.List(ctx, store.ListOptions{})
		if err != nil || !slices.Equal(p.Names, []string{"saveKey"}) {
			t.Fatalf("list shows expired: %v %v", p, err)
		}
		found, errs, err := store.GetMany(ctx, s, []string{"expireKey", "saveKey"})
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "getmany expired", errs["expireKey"], store.ErrExpired)
		if f := found["expireKey"]; f != nil && f.Value != nil {
			t.Fatal("GetMany returned an expired value")
		}
		if found["saveKey"] == nil || errs["saveKey"] != nil {
			t.Fatalf("GetMany live: %v", errs["saveKey"])
		}
		h, err := s.History(ctx, "expireKey", 0)
		if err == nil {
			for _, v := range h {
				if v.Value != nil {
					t.Fatal("history returned an expired value")
				}
			}
		}
		// Setting it again without expiry revives it.
		mustPut(t, s, &store.Secret{Name: "expireKey", Value: str("fresh")})
		if got, err := s.Get(ctx, "expireKey"); err != nil || string(got.Value) != `"fresh"` {
			t.Fatalf("revived: %v", err)
		}
	})

	t.Run("ListPaginationAndPrefix", func(t *testing.T) {
		s := open(t)
		p, err := s.List(ctx, store.ListOptions{})
		if err != nil || len(p.Names) != 0 || p.Names == nil || p.ContinuationToken != "" {
			t.Fatalf("empty list: %#v %v", p, err)
		}
		var want []string
		for i := range 23 {
			n := fmt.Sprintf("captain:hidden/%02d", i)
			if i%3 == 0 {
				n = fmt.Sprintf("captain:limited/%02d", i)
			}
			want = append(want, n)
			mustPut(t, s, &store.Secret{Name: n, Value: str("v")})
		}
		mustPut(t, s, &store.Secret{Name: "other", Value: str("v")})
		slices.Sort(want)
		var got []string
		tok, pages := "", 0
		for {
			p, err := s.List(ctx, store.ListOptions{Prefix: "captain:", Limit: 5, ContinuationToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(p.Names) > 5 {
				t.Fatalf("page of %d > limit 5", len(p.Names))
			}
			got = append(got, p.Names...)
			if p.ContinuationToken == "" {
				break
			}
			tok = p.ContinuationToken
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged names:\n got %v\nwant %v", got, want)
		}
		if pages != 5 {
			t.Fatalf("%d pages for 23 names at limit 5", pages)
		}
		p, err = s.List(ctx, store.ListOptions{Prefix: "captain:limited/"})
		if err != nil || len(p.Names) != 8 || p.ContinuationToken != "" {
			t.Fatalf("prefix list: %v %v", p, err)
		}
		all, err := s.List(ctx, store.ListOptions{})
		if err != nil || len(all.Names) != 24 || !slices.IsSorted(all.Names) {
			t.Fatalf("full list: %d names, %v", len(all.Names), err)
		}
		_, err = s.List(ctx, store.ListOptions{ContinuationToken: "not-a-token!"})
		wantErr(t, "bad token", err, store.ErrInvalidToken)
	})

	t.Run("CompareAndSwap", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, &store.Secret{Name: "cas", Value: str("a")}, store.IfVersion(0))
		_, err := s.Put(ctx, &store.Secret{Name: "cas", Value: str("cas-secret-b")}, store.IfVersion(0))
		wantErr(t, "create existing", err, store.ErrConflict)
		noLeak(t, err, "cas-secret-b")
		mustPut(t, s, &store.Secret{Name: "cas", Value: str("b")}, store.IfVersion(1))
		_, err = s.Put(ctx, &store.Secret{Name: "cas", Value: str("c")}, store.IfVersion(1))
		wantErr(t, "stale version", err, store.ErrConflict)
		_, err = s.Put(ctx, &store.Secret{Name: "missing", Value: str("c")}, store.IfVersion(3))
		wantErr(t, "cas on missing", err, store.ErrConflict)
		got, _ := s.Get(ctx, "cas")
		if string(got.Value) != `"b"` || got.Version != 2 {
			t.Fatalf("failed CAS changed the secret: %s v%d", got.Value, got.Version)
		}
		if _, err := s.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("failed CAS created a secret: %v", err)
		}
	})

	t.Run("NoLostUpdateUnder50Writers", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, &store.Secret{Name: "counter", Value: json.RawMessage(`0`)})
		const writers = 50
		var wg sync.WaitGroup
		errc := make(chan error, writers)
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for attempt := 0; attempt < 1000; attempt++ {
					cur, err := s.Get(ctx, "counter")
					if err != nil {
						errc <- err
						return
					}
					var n int
					if err := json.Unmarshal(cur.Value, &n); err != nil {
						errc <- err
						return
					}
					_, err = s.Put(ctx, &store.Secret{Name: "counter", Value: json.RawMessage(fmt.Sprint(n + 1))}, store.IfVersion(cur.Version))
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						errc <- err
					}
					return
				}
				errc <- errors.New("gave up after 1000 conflicts")
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "counter")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Value) != fmt.Sprint(writers) || got.Version != writers+1 {
			t.Fatalf("after %d CAS increments: value %s version %d (lost update)", writers, got.Value, got.Version)
		}
	})

	t.Run("Tags", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, &store.Secret{Name: "t", Value: str("v"), Tags: map[string]string{"env": "prod", "team": "a"}, Description: "the t"})
		if err := s.SetTags(ctx, "t", map[string]string{"team": "b", "tier": "1"}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, "t")
		if want := map[string]string{"env": "prod", "team": "b", "tier": "1"}; !mapsEqual(got.Tags, want) || got.Version != 1 {
			t.Fatalf("after SetTags: %v v%d", got.Tags, got.Version)
		}
		if err := s.DeleteTags(ctx, "t", "tier", "absent"); err != nil {
			t.Fatal(err)
		}
		// A Put without tags or description keeps them.
		mustPut(t, s, &store.Secret{Name: "t", Value: str("v2")})
		got, _ = s.Get(ctx, "t")
		if want := map[string]string{"env": "prod", "team": "b"}; !mapsEqual(got.Tags, want) || got.Description != "the t" {
			t.Fatalf("tags/description after put: %v %q", got.Tags, got.Description)
		}
		// An explicit empty map clears them.
		mustPut(t, s, &store.Secret{Name: "t", Value: str("v3"), Tags: map[string]string{}})
		got, _ = s.Get(ctx, "t")
		if len(got.Tags) != 0 {
			t.Fatalf("tags not cleared: %v", got.Tags)
		}
		for _, bad := range []map[string]string{{"": "x"}, {"a=b": "x"}, {"k": "line\nbreak"}, {strings.Repeat("k", 129): "x"}} {
			if err := s.SetTags(ctx, "t", bad); !errors.Is(err, store.ErrInvalidValue) {
				t.Fatalf("SetTags(%q) = %v, want ErrInvalidValue", bad, err)
			}
		}
	})

	t.Run("HistoryKeepsCurrentAndPrevious", func(t *testing.T) {
		s := open(t)
		for i := 1; i <= 12; i++ {
			mustPut(t, s, &store.Secret{Name: "h", Value: json.RawMessage(fmt.Sprint(i))})
		}
		h, err := s.History(ctx, "h", 2)
		if err != nil || len(h) != 2 || string(h[0].Value) != "12" || string(h[1].Value) != "11" || h[0].Version != 12 || h[1].Version != 11 {
			t.Fatalf("history(2): %v %v", h, err)
		}
		all, err := s.History(ctx, "h", 0)
		if err != nil || len(all) < 2 || len(all) > 12 {
			t.Fatalf("history(0): %d entries, %v", len(all), err)
		}
		for i, v := range all {
			if v.Version != int64(12-i) || string(v.Value) != fmt.Sprint(12-i) {
				t.Fatalf("history[%d] = v%d %s; want newest first", i, v.Version, v.Value)
			}
		}
	})

	t.Run("NamesAtTheLimits", func(t *testing.T) {
		s := open(t)
		long := strings.Repeat("a", store.MaxNameLen)
		mustPut(t, s, &store.Secret{Name: long, Value: str("x")})
		if got, err := s.Get(ctx, long); err != nil || got.Name != long {
			t.Fatalf("255-byte name: %v", err)
		}
		odd := "project/app_1/prod:api-key.v2"
		mustPut(t, s, &store.Secret{Name: odd, Value: str("x")})
		if _, err := s.Get(ctx, odd); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"", long + "a", "has space", "é", "a=b", "semi;colon", "nul\x00", "new\nline", "${x}"} {
			_, err := s.Put(ctx, &store.Secret{Name: bad, Value: str("x")})
			wantErr(t, fmt.Sprintf("put %q", bad), err, store.ErrInvalidName)
			_, err = s.Get(ctx, bad)
			wantErr(t, fmt.Sprintf("get %q", bad), err, store.ErrInvalidName)
			wantErr(t, fmt.Sprintf("delete %q", bad), s.Delete(ctx, bad), store.ErrInvalidName)
		}
	})

	t.Run("ValueLimits", func(t *testing.T) {
		s := open(t)
		maxStr := json.RawMessage(`"` + strings.Repeat("x", store.MaxValueSize-2) + `"`)
		mustPut(t, s, &store.Secret{Name: "big", Value: maxStr})
		got, err := s.Get(ctx, "big")
		if err != nil || len(got.Value) != store.MaxValueSize {
			t.Fatalf("max-size value: %v", err)
		}
		over := json.RawMessage(`"` + strings.Repeat("y", store.MaxValueSize-1) + `"`)
		_, err = s.Put(ctx, &store.Secret{Name: "big", Value: over})
		wantErr(t, "oversize", err, store.ErrTooLarge)
		if !strings.Contains(err.Error(), fmt.Sprint(store.MaxValueSize)) {
			t.Fatalf("oversize error does not say the limit: %v", err)
		}
		noLeak(t, err, "yyyyyyyy")
		for _, bad := range []string{``, `{"unterminated":`, `not json`, `"a" "b"`} {
			_, err := s.Put(ctx, &store.Secret{Name: "big", Value: json.RawMessage(bad)})
			wantErr(t, fmt.Sprintf("value %q", bad), err, store.ErrInvalidValue)
		}
		got, err = s.Get(ctx, "big")
		if err != nil || len(got.Value) != store.MaxValueSize || got.Version != 1 {
			t.Fatalf("rejected writes changed the stored secret: %v", err)
		}
	})

	t.Run("GetManyMixed", func(t *testing.T) {
		s := open(t)
		mustPut(t, s, &store.Secret{Name: "a", Value: str("A")})
		mustPut(t, s, &store.Secret{Name: "b", Value: json.RawMessage(`{"k":1}`)})
		found, errs, err := store.GetMany(ctx, s, []string{"a", "b", "nope"})
		if err != nil {
			t.Fatal(err)
		}
		if string(found["a"].Value) != `"A"` || string(found["b"].Value) != `{"k":1}` || len(errs) != 1 {
			t.Fatalf("GetMany: %v %v", found, errs)
		}
		wantErr(t, "GetMany missing", errs["nope"], store.ErrNotFound)
	})

	t.Run("Scopes", func(t *testing.T) {
		s := open(t)
		if _, ok := s.(store.Scoper); !ok {
			t.Skip("backend has no scopes")
		}
		proj := store.Scope{Project: "shop"}
		env := store.Scope{Project: "shop", Environment: "prod"}
		orgEnv := store.Scope{Environment: "prod"}
		put := func(sc store.Scope, name, v string) {
			t.Helper()
			view, err := store.InScope(s, sc)
			if err != nil {
				t.Fatal(err)
			}
			got := mustPut(t, view, &store.Secret{Name: name, Value: str(v)})
			if got.Scope != sc {
				t.Fatalf("stored scope %v, want %v", got.Scope, sc)
			}
		}
		put(store.Scope{}, "db/password", "org")
		put(proj, "db/password", "project")
		put(env, "db/password", "env")
		put(orgEnv, "only-org-env", "org-env")
		put(proj, "only-project", "p")
		for sc, want := range map[store.Scope]string{{}: `"org"`, proj: `"project"`, env: `"env"`} {
			view, _ := store.InScope(s, sc)
			got, err := view.Get(ctx, "db/password")
			if err != nil || string(got.Value) != want {
				t.Fatalf("%v: %s %v", sc, got.Value, err)
			}
		}
		if _, err := s.Get(ctx, "only-project"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("project secret visible at organization level: %v", err)
		}
		pv, _ := store.InScope(s, proj)
		if p, err := pv.List(ctx, store.ListOptions{}); err != nil || !slices.Equal(p.Names, []string{"db/password", "only-project"}) {
			t.Fatalf("project list: %v %v", p, err)
		}
		// Narrowest wins for a run.
		cases := []struct{ project, env, name, want string }{
			{"shop", "prod", "db/password", `"env"`},
			{"shop", "dev", "db/password", `"project"`},
			{"blog", "prod", "db/password", `"org"`},
			{"", "", "db/password", `"org"`},
			{"blog", "prod", "only-org-env", `"org-env"`},
			{"shop", "", "only-project", `"p"`},
		}
		for _, c := range cases {
			rv := store.NewRunView(s, store.LocalPrincipal, c.project, c.env)
			got, err := rv.Secret(ctx, c.name)
			if err != nil || string(got) != c.want {
				t.Fatalf("run (%q,%q) %s = %s, %v; want %s", c.project, c.env, c.name, got, err, c.want)
			}
		}
		rv := store.NewRunView(s, store.LocalPrincipal, "blog", "dev")
		_, err := rv.Secret(ctx, "only-project")
		wantErr(t, "other project's secret", err, store.ErrNotFound)
		vals, errs, err := store.NewRunView(s, store.LocalPrincipal, "shop", "prod").Secrets(ctx, []string{"db/password", "only-project", "nope"})
		if err != nil || string(vals["db/password"]) != `"env"` || string(vals["only-project"]) != `"p"` || !errors.Is(errs["nope"], store.ErrNotFound) {
			t.Fatalf("Secrets: %v %v %v", vals, errs, err)
		}
		// UPDATE_SECRET writes where the name resolves.
		upd, err := store.NewRunView(s, store.LocalPrincipal, "shop", "dev").Put(ctx, "db/password", str("project-rotated"), 1)
		if err != nil || upd.Scope != proj || upd.Version != 2 {
			t.Fatalf("run put: %v %v", upd, err)
		}
		if got, _ := pv.Get(ctx, "db/password"); string(got.Value) != `"project-rotated"` {
			t.Fatalf("rotated value not in project scope: %s", got.Value)
		}
		if got, _ := s.Get(ctx, "db/password"); string(got.Value) != `"org"` {
			t.Fatal("run put touched the organization secret")
		}
		_, err = store.InScope(s, store.Scope{Project: "bad/project"})
		wantErr(t, "bad scope", err, store.ErrInvalidScope)
		// A secret claiming another scope is not silently written elsewhere.
		_, err = s.Put(ctx, &store.Secret{Name: "x", Value: str("x"), Scope: proj})
		wantErr(t, "scope mismatch", err, store.ErrInvalidScope)
	})

	t.Run("Sweep", func(t *testing.T) {
		s := open(t)
		sw, ok := s.(store.Sweeper)
		if !ok {
			t.Skip("backend has no sweeper")
		}
		for i := range 10 {
			mustPut(t, s, &store.Secret{Name: fmt.Sprintf("secret-%d", i), Value: str("v"), Expires: time.Now().Add(time.Duration(i-5) * 24 * time.Hour)})
		}
		removed, err := sw.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, k := range removed {
			names = append(names, k.Name)
		}
		slices.Sort(names)
		if want := []string{"secret-0", "secret-1", "secret-2", "secret-3", "secret-4", "secret-5"}; !slices.Equal(names, want) {
			t.Fatalf("swept %v, want %v", names, want)
		}
		if _, err := s.Get(ctx, "secret-0"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("swept secret still there: %v", err)
		}
		p, _ := s.List(ctx, store.ListOptions{})
		if len(p.Names) != 4 {
			t.Fatalf("after sweep %v", p.Names)
		}
		again, err := sw.Sweep(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second sweep: %v %v", again, err)
		}
	})

	t.Run("BinaryValuesKeepTheirBytesAndEncoding", func(t *testing.T) {
		s := open(t)
		raw := []byte{0x00, 0xff, 0xfe, 0x80, 'a', 0x0a, 0xc3}
		b64 := base64.StdEncoding.EncodeToString(raw)
		mustPut(t, s, &store.Secret{Name: "bin", Value: str(b64), Encoding: store.EncodingBase64})
		got, err := s.Get(ctx, "bin")
		if err != nil || got.Encoding != store.EncodingBase64 || string(got.Value) != string(str(b64)) {
			t.Fatalf("binary: %v %v", got, err)
		}
		var back string
		_ = json.Unmarshal(got.Value, &back)
		if dec, _ := base64.StdEncoding.DecodeString(back); !slices.Equal(dec, raw) {
			t.Fatal("binary bytes changed")
		}
		for _, bad := range []*store.Secret{
			{Name: "bin", Value: str("not base64!"), Encoding: store.EncodingBase64},
			{Name: "bin", Value: json.RawMessage(`{"a":1}`), Encoding: store.EncodingBase64},
			{Name: "bin", Value: str("x"), Encoding: "rot13"},
		} {
			if _, err := s.Put(ctx, bad); !errors.Is(err, store.ErrInvalidValue) {
				t.Fatalf("Put %q with encoding %q: %v, want ErrInvalidValue", bad.Value, bad.Encoding, err)
			}
		}
		// A text value written over it is text again.
		mustPut(t, s, &store.Secret{Name: "bin", Value: str("text")})
		if got, _ := s.Get(ctx, "bin"); got.Encoding != "" {
			t.Fatalf("encoding kept over a text value: %q", got.Encoding)
		}
	})

	t.Run("ExpiredIsOneModel", func(t *testing.T) {
		s := open(t)
		past := time.Now().Add(-time.Hour)
		mustPut(t, s, &store.Secret{Name: "old", Value: str("old-value-v1")})
		mustPut(t, s, &store.Secret{Name: "old", Value: str("old-value-v2"), Expires: past, Tags: map[string]string{"k": "v"}})
		mustPut(t, s, &store.Secret{Name: "live", Value: str("live-value")})
		now := time.Now()
		// Get: metadata with state expired, never the value.
		got, err := s.Get(ctx, "old")
		wantErr(t, "get", err, store.ErrExpired)
		if got == nil || got.Value != nil || got.State(now) != "expired" || got.Version != 2 || got.Tags["k"] != "v" {
			t.Fatalf("expired get: %+v", got)
		}
		// List: hidden by default, listed on request.
		p, err := s.List(ctx, store.ListOptions{})
		if err != nil || !slices.Equal(p.Names, []string{"live"}) {
			t.Fatalf("list: %v %v", p, err)
		}
		p, err = s.List(ctx, store.ListOptions{Expired: true})
		if err != nil || !slices.Equal(p.Names, []string{"live", "old"}) {
			t.Fatalf("list expired: %v %v", p, err)
		}
		// History: the same model per version.
		h, err := s.History(ctx, "old", 0)
		if err != nil || len(h) != 2 {
			t.Fatalf("history: %v %v", h, err)
		}
		if h[0].Value != nil || h[0].State(now) != "expired" || h[1].State(now) != "active" || string(h[1].Value) != string(str("old-value-v1")) {
			t.Fatalf("history states: %+v", h)
		}
	})

	t.Run("AccessControl", func(t *testing.T) { runAccess(t, open(t)) })
	t.Run("RunReadsMatchTheirAudit", func(t *testing.T) { runReadsMatchAudit(t, open(t)) })
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
