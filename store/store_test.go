package store_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/env"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/storetest"
)

func TestValidateName(t *testing.T) {
	ok := []string{"a", "project/app/prod/api-key", "captain:limited/1", "A.b_c-d:e/f", strings.Repeat("x", 255)}
	bad := []string{"", strings.Repeat("x", 256), "a b", "tab\t", "é", "a=b", "a\"b", "${x}", "a\x00"}
	for _, n := range ok {
		if err := store.ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		err := store.ValidateName(n)
		if !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", n, err)
		}
	}
	// A long bad "name" (a value pasted by mistake) is not echoed whole.
	long := "secret value " + strings.Repeat("s3cr3t", 40)
	if err := store.ValidateName(long); strings.Contains(err.Error(), long) {
		t.Errorf("error echoes the whole input: %v", err)
	}
}

func TestResolutionOrder(t *testing.T) {
	cases := []struct {
		p, e string
		want []store.Scope
	}{
		{"", "", []store.Scope{{}}},
		{"shop", "", []store.Scope{{Project: "shop"}, {}}},
		{"", "prod", []store.Scope{{Environment: "prod"}, {}}},
		{"shop", "prod", []store.Scope{{Project: "shop", Environment: "prod"}, {Environment: "prod"}, {Project: "shop"}, {}}},
	}
	for _, c := range cases {
		if got := store.ResolutionOrder(c.p, c.e); !slices.Equal(got, c.want) {
			t.Errorf("ResolutionOrder(%q,%q) = %v, want %v", c.p, c.e, got, c.want)
		}
	}
	for _, sc := range []store.Scope{{}, {Project: "p"}, {Environment: "e"}, {Project: "p", Environment: "e"}} {
		back, err := store.ParseScopeKey(sc.Key())
		if err != nil || back != sc {
			t.Errorf("scope key round trip %v -> %q -> %v, %v", sc, sc.Key(), back, err)
		}
	}
	for _, k := range []string{"", "x", "p/", "e/p", "p/a/b", "e/p/e/x", "p/a:b"} {
		if _, err := store.ParseScopeKey(k); err == nil {
			t.Errorf("ParseScopeKey(%q) accepted", k)
		}
	}
}

func TestPrincipalSatisfies(t *testing.T) {
	p := store.Principal{Scopes: []string{"secrets:get:captain:*", "secrets:set:exact", "secrets:get:tag:env=*"}}
	cases := map[string]bool{
		"secrets:get:captain:x":        true,
		"secrets:get:captain:":         true,
		"secrets:get:captai":           false,
		"secrets:set:exact":            true,
		"secrets:set:exact2":           false,
		"secrets:get:tag:env=prod":     true,
		"secrets:get:tag:team=a":       false,
		"secrets:list-secrets":         false,
		"secrets:set:captain:anything": false,
	}
	for s, want := range cases {
		if got := p.Satisfies(s); got != want {
			t.Errorf("Satisfies(%q) = %v, want %v", s, got, want)
		}
	}
	if !store.LocalPrincipal.Satisfies("secrets:list-secrets") || !store.LocalPrincipal.CanName(store.ActionSet, "x") {
		t.Error("LocalPrincipal must hold every scope")
	}
}

func TestParseBundle(t *testing.T) {
	yes := []string{
		`{"env_vars":[{"name":"A","value":"1"}]}`,
		`{"files":[{"path":"k.pem","content":"x"}]}`,
		`{"env_vars":[],"files":[{"path":"a","content":""}]}`,
	}
	no := []string{`"string"`, `{}`, `{"env_vars":[{"value":"1"}]}`, `{"env_vars":[{"name":"A","value":"1"}],"other":1}`,
		`{"files":[{"path":"","content":"x"}]}`, `{"env_vars":"x"}`, `[1]`, `{"env_vars":[{"name":"A","value":1}]}`, ``}
	for _, v := range yes {
		if _, ok := store.ParseBundle(json.RawMessage(v)); !ok {
			t.Errorf("ParseBundle(%s) = false", v)
		}
	}
	for _, v := range no {
		if _, ok := store.ParseBundle(json.RawMessage(v)); ok {
			t.Errorf("ParseBundle(%s) = true", v)
		}
	}
	b, _ := store.ParseBundle(json.RawMessage(`{"env_vars":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"files":[{"path":"p","content":"c"}]}`))
	if !slices.Equal(b.EnvNames(), []string{"A", "B"}) || !slices.Equal(b.FilePaths(), []string{"p"}) {
		t.Errorf("names %v paths %v", b.EnvNames(), b.FilePaths())
	}
}

func TestTokens(t *testing.T) {
	for _, n := range []string{"a", "x/y:z"} {
		got, err := store.DecodeToken(store.EncodeToken(n))
		if err != nil || got != n {
			t.Errorf("token round trip %q: %q %v", n, got, err)
		}
	}
	for _, tok := range []string{"!!", "YWJj", store.EncodeToken("bad name")} {
		if _, err := store.DecodeToken(tok); !errors.Is(err, store.ErrInvalidToken) {
			t.Errorf("DecodeToken(%q) = %v", tok, err)
		}
	}
}

func TestSecretStringHidesValue(t *testing.T) {
	s := &store.Secret{Name: "n", Value: json.RawMessage(`"hidden-value"`), Version: 3}
	for _, out := range []string{s.String(), s.GoString()} {
		if strings.Contains(out, "hidden-value") {
			t.Errorf("String leaks value: %s", out)
		}
	}
}

// The layered store over an empty read-only layer must behave like the
// writable layer beneath it.
func TestLayeredConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return store.Layered(env.New(env.WithEnviron(nil)), memory.New())
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "a/b:c", "", "é", strings.Repeat("a", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := store.ValidateName(name)
		valid := len(name) >= 1 && len(name) <= 255
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_./:-", c) >= 0) {
				valid = false
			}
		}
		if valid != (err == nil) {
			t.Fatalf("ValidateName(%q) = %v, want valid=%v", name, err, valid)
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"env_vars":[{"name":"A","value":"1"}],"files":[{"path":"p","content":"c"}]}`))
	f.Add([]byte(`{"env_vars":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, ok := store.ParseBundle(data)
		if ok && (b == nil || len(b.EnvVars)+len(b.Files) < 0) {
			t.Fatal("ok without bundle")
		}
	})
}

func FuzzDecodeToken(f *testing.F) {
	f.Add(store.EncodeToken("a/b"))
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		name, err := store.DecodeToken(tok)
		if err == nil && name != "" && store.ValidateName(name) != nil {
			t.Fatalf("token %q decoded to invalid name %q", tok, name)
		}
	})
}
