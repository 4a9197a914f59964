package vault_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/wfrun/wfrun/internal/vaulttest"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
	"github.com/wfrun/wfrun/store/storetest"
	"github.com/wfrun/wfrun/store/vault"
)

const readPolicy = `
path "secret/data/wfrun/*" { capabilities = ["read"] }
path "secret/metadata/wfrun/*" { capabilities = ["read", "list"] }
`

// seed writes secrets under secret/wfrun/ the way an operator would: an
// object as the KV data, anything else as a single "value" field. A secret
// outside the prefix must stay invisible.
func seed(t *testing.T, srv *vaulttest.Server, secrets map[string]json.RawMessage) {
	t.Helper()
	for n, v := range secrets {
		var data map[string]any
		if json.Unmarshal(v, &data) != nil || data == nil {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				t.Fatal(err)
			}
			data = map[string]any{"value": x}
		}
		srv.Put(t, "secret", "wfrun/"+n, data)
	}
	srv.Put(t, "secret", "elsewhere/api_token", map[string]any{"value": "outside-the-prefix"})
}

func newStore(t *testing.T, o vault.Options) *vault.Store {
	t.Helper()
	s, err := vault.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReadOnlyConformance(t *testing.T) {
	srv := vaulttest.Start(t)
	srv.Policy(t, "wfrun-read", readPolicy)
	roleID, secretID := srv.AppRole(t, "wfrun", "wfrun-read")
	limited := srv.Token(t, &api.TokenCreateRequest{Policies: []string{"wfrun-read"}})

	auths := map[string]vault.Options{
		"Token":         {Token: limited.ClientToken},
		"AppRole":       {AppRole: vault.AppRole{RoleID: roleID, SecretID: secretID}},
		"ForcedAppRole": {Auth: vault.AuthAppRole, Token: "ignored-token", AppRole: vault.AppRole{RoleID: roleID, SecretID: secretID}},
	}
	seeded := false
	for name, o := range auths {
		t.Run(name, func(t *testing.T) {
			storetest.RunReadOnly(t, func(t *testing.T, secrets map[string]json.RawMessage) store.Store {
				if !seeded {
					seed(t, srv, secrets)
					seeded = true
				}
				o.Address, o.Prefix = srv.Addr, "wfrun/"
				return newStore(t, o)
			})
		})
	}
}

func TestValueMappingAndMetadata(t *testing.T) {
	srv := vaulttest.Start(t)
	ctx := context.Background()
	c := srv.Client(t)
	srv.Put(t, "secret", "app/plain", map[string]any{"value": "v1"})
	srv.Put(t, "secret", "app/plain", map[string]any{"value": "v2"})
	srv.Put(t, "secret", "app/obj", map[string]any{"user": "u", "value": "p"})
	srv.Put(t, "secret", "app/nested/deep", map[string]any{"value": true})
	if err := c.KVv2("secret").PutMetadata(ctx, "app/plain", api.KVMetadataPutInput{CustomMetadata: map[string]any{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, vault.Options{Address: srv.Addr, Token: vaulttest.RootToken, Prefix: "app"})
	defer s.Close()

	cases := map[string]string{"plain": `"v2"`, "obj": `{"user":"u","value":"p"}`, "nested/deep": `true`}
	for n, want := range cases {
		got, err := s.Get(ctx, n)
		if err != nil || string(got.Value) != want {
			t.Fatalf("%s: %s %v, want %s", n, got.Value, err, want)
		}
	}
	got, err := s.Get(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Tags["env"] != "prod" || got.UpdatedAt.IsZero() || time.Since(got.UpdatedAt) > time.Hour {
		t.Fatalf("metadata: v%d tags %v updated %v", got.Version, got.Tags, got.UpdatedAt)
	}
	h, err := s.History(ctx, "plain", 0)
	if err != nil || len(h) != 2 || string(h[0].Value) != `"v2"` || string(h[1].Value) != `"v1"` || h[1].Version != 1 {
		t.Fatalf("history: %v %v", h, err)
	}

	// A soft-deleted latest version reads as not found; history keeps v1.
	if err := c.KVv2("secret").Delete(ctx, "app/plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "plain"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if h, err := s.History(ctx, "plain", 5); err != nil || len(h) != 1 || h[0].Version != 1 {
		t.Fatalf("history after delete: %v %v", h, err)
	}

	p, err := s.List(ctx, store.ListOptions{Prefix: "nes"})
	if err != nil || strings.Join(p.Names, ",") != "nested/deep" {
		t.Fatalf("list nes: %v %v", p, err)
	}
	p, err = s.List(ctx, store.ListOptions{})
	if err != nil || strings.Join(p.Names, ",") != "nested/deep,obj,plain" {
		t.Fatalf("list: %v %v", p, err)
	}

	for _, bad := range []string{"../elsewhere", "a/./b", "a//b", "a/", "/a"} {
		if _, err := s.Get(ctx, bad); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("%q: %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestForbiddenAndNoLeak(t *testing.T) {
	srv := vaulttest.Start(t)
	ctx := context.Background()
	srv.Put(t, "secret", "wfrun/allowed", map[string]any{"value": "open-sesame"})
	srv.Put(t, "secret", "wfrun/denied", map[string]any{"value": "top-secret-value"})
	srv.Policy(t, "one", `path "secret/data/wfrun/allowed" { capabilities = ["read"] }`)
	tok := srv.Token(t, &api.TokenCreateRequest{Policies: []string{"one"}})

	s := newStore(t, vault.Options{Address: srv.Addr, Token: tok.ClientToken, Prefix: "wfrun"})
	defer s.Close()
	if got, err := s.Get(ctx, "allowed"); err != nil || string(got.Value) != `"open-sesame"` {
		t.Fatalf("allowed: %v", err)
	}
	_, err := s.Get(ctx, "denied")
	if !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("denied: %v, want ErrForbidden", err)
	}
	if _, err := s.List(ctx, store.ListOptions{}); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("list without list capability: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
	for _, v := range []string{"top-secret-value", tok.ClientToken, vaulttest.RootToken} {
		if strings.Contains(err.Error(), v) {
			t.Fatalf("error leaks %q: %v", v, err)
		}
	}

	// A wrong token is forbidden too; a bad AppRole secret id as well.
	bad := newStore(t, vault.Options{Address: srv.Addr, Token: "not-a-token", Prefix: "wfrun"})
	if _, err := bad.Get(ctx, "allowed"); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("bad token: %v", err)
	}
	roleID, _ := srv.AppRole(t, "r", "one")
	badRole := newStore(t, vault.Options{Address: srv.Addr, AppRole: vault.AppRole{RoleID: roleID, SecretID: "wrong-secret-id"}})
	_, err = badRole.Get(ctx, "allowed")
	if !errors.Is(err, store.ErrForbidden) || strings.Contains(err.Error(), "wrong-secret-id") {
		t.Fatalf("bad secret id: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	s := newStore(t, vault.Options{Address: "http://127.0.0.1:1", Token: "t", MaxRetries: -1})
	_, err := s.Get(context.Background(), "x")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%v, want ErrUnavailable", err)
	}
	found, errs, err := store.GetMany(context.Background(), s, []string{"x"})
	if !errors.Is(err, store.ErrUnavailable) || found != nil || errs != nil {
		t.Fatalf("GetMany: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []vault.Options{
		{},
		{Address: "http://127.0.0.1:8200"},
		{Address: "http://127.0.0.1:8200", Auth: vault.AuthAppRole, Token: "t"},
		{Address: "http://127.0.0.1:8200", Auth: "ldap", Token: "t"},
		{Address: "http://127.0.0.1:8200", Token: "t", Prefix: "../up"},
	} {
		if _, err := vault.New(o); err == nil {
			t.Errorf("%+v: no error", o.Auth)
		}
	}
	s := newStore(t, vault.Options{Address: "http://127.0.0.1:8200", Token: "t"})
	for _, err := range []error{
		s.Delete(context.Background(), "x"),
		s.SetTags(context.Background(), "x", nil),
	} {
		if !errors.Is(err, store.ErrReadOnly) {
			t.Fatal(err)
		}
	}
}

// countingTransport counts KV data reads.
type countingTransport struct {
	next  http.RoundTripper
	reads atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/secret/data/") {
		c.reads.Add(1)
	}
	return c.next.RoundTrip(r)
}

func TestOneReadPerSecretPerRun(t *testing.T) {
	srv := vaulttest.Start(t)
	ctx := context.Background()
	srv.Put(t, "secret", "wfrun/a", map[string]any{"value": "a1"})
	srv.Put(t, "secret", "wfrun/b", map[string]any{"k": "b1"})
	ct := &countingTransport{}
	s := newStore(t, vault.Options{
		Address: srv.Addr, Token: vaulttest.RootToken, Prefix: "wfrun",
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper { ct.next = rt; return ct },
	})
	defer s.Close()
	// env over vault, the way WFRUN_STORE chains them.
	chain := store.Layered(s)

	run1 := store.NewRunView(chain, store.LocalPrincipal, "", "")
	for range 3 {
		if v, err := run1.Secret(ctx, "a"); err != nil || string(v) != `"a1"` {
			t.Fatalf("a: %s %v", v, err)
		}
	}
	vals, errs, err := run1.Secrets(ctx, []string{"a", "b", "missing"})
	if err != nil || string(vals["b"]) != `{"k":"b1"}` || !errors.Is(errs["missing"], store.ErrNotFound) {
		t.Fatalf("secrets: %v %v %v", vals, errs, err)
	}
	if _, err := run1.Secret(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if n := ct.reads.Load(); n != 3 {
		t.Fatalf("run 1 made %d KV reads, want 3 (a, b, missing once each)", n)
	}

	// A rotation in Vault: the running run keeps its value, the next run
	// reads the new one.
	srv.Put(t, "secret", "wfrun/a", map[string]any{"value": "a2"})
	if v, _ := run1.Secret(ctx, "a"); string(v) != `"a1"` {
		t.Fatalf("run 1 saw %s mid-run", v)
	}
	run2 := store.NewRunView(chain, store.LocalPrincipal, "", "")
	for range 2 {
		if v, err := run2.Secret(ctx, "a"); err != nil || string(v) != `"a2"` {
			t.Fatalf("run 2: %s %v", v, err)
		}
	}
	if n := ct.reads.Load(); n != 4 {
		t.Fatalf("%d KV reads after run 2, want 4", n)
	}
	// The shared store itself never caches.
	for range 2 {
		if _, err := s.Get(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if n := ct.reads.Load(); n != 6 {
		t.Fatalf("%d KV reads after two direct gets, want 6", n)
	}
}

func TestTokenRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for token TTLs")
	}
	srv := vaulttest.Start(t)
	ctx := context.Background()
	srv.Put(t, "secret", "wfrun/a", map[string]any{"value": "a1"})
	srv.Policy(t, "wfrun-read", readPolicy)

	// A renewable token with a 3s TTL: without renewal it would be gone
	// after the sleep.
	tok := srv.Token(t, &api.TokenCreateRequest{Policies: []string{"wfrun-read"}, TTL: "3s", ExplicitMaxTTL: "1h"})
	s := newStore(t, vault.Options{Address: srv.Addr, Token: tok.ClientToken, Prefix: "wfrun"})
	defer s.Close()
	if _, err := s.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}

	// An AppRole token that reaches its max TTL: the store logs in again.
	roleID, secretID := srv.AppRole(t, "short", "wfrun-read")
	srv.Write(t, "auth/approle/role/short", map[string]any{"token_policies": []string{"wfrun-read"}, "token_ttl": "2s", "token_max_ttl": "3s"})
	ar := newStore(t, vault.Options{Address: srv.Addr, AppRole: vault.AppRole{RoleID: roleID, SecretID: secretID}, Prefix: "wfrun"})
	defer ar.Close()
	if _, err := ar.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}

	time.Sleep(5 * time.Second)
	if got, err := s.Get(ctx, "a"); err != nil || string(got.Value) != `"a1"` {
		t.Fatalf("after the token's first TTL: %v (not renewed?)", err)
	}
	// The token is alive past its first TTL (a lookup of an expired token
	// fails) because the store renewed it: Vault records the last renewal.
	// Its remaining ttl is not checked: Vault reports it in whole seconds,
	// and just before the next renewal (about 0.9 s before expiry for a 3 s
	// TTL) it reads 0 while the token is still valid.
	self, err := srv.Client(t).Auth().Token().Lookup(tok.ClientToken)
	if err != nil {
		t.Fatalf("token lookup after its first TTL: %v (not renewed?)", err)
	}
	unix := func(key string) int64 {
		n, _ := self.Data[key].(json.Number)
		v, _ := n.Int64()
		return v
	}
	created, renewed := unix("creation_time"), unix("last_renewal_time")
	if created == 0 || renewed <= created {
		t.Fatalf("token created at %v, last renewed at %v: never renewed", self.Data["creation_time"], self.Data["last_renewal_time"])
	}
	if _, err := ar.Get(ctx, "a"); err != nil {
		t.Fatalf("AppRole after max TTL: %v (no new login?)", err)
	}
}

// fakeKubernetes is the one Kubernetes API call Vault's Kubernetes auth
// makes: a TokenReview of the pod's JWT. It accepts exactly jwt.
func fakeKubernetes(t *testing.T, jwt string, reviews *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Spec struct{ Token string } `json:"spec"`
		}
		if r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" || json.NewDecoder(r.Body).Decode(&review) != nil {
			http.Error(w, "unexpected request", http.StatusNotFound)
			return
		}
		reviews.Add(1)
		ok := review.Spec.Token == jwt
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
			"status": map[string]any{
				"authenticated": ok,
				"user":          map[string]any{"username": "system:serviceaccount:default:wfrun", "uid": "sa-uid-1"},
			},
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// serviceAccountJWT is an (unsigned-looking) legacy service-account token;
// Vault reads its claims and lets the TokenReview decide.
func serviceAccountJWT() string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "RS256", "kid": "k"}) + "." + enc(map[string]any{
		"iss":                                    "kubernetes/serviceaccount",
		"sub":                                    "system:serviceaccount:default:wfrun",
		"kubernetes.io/serviceaccount/namespace": "default",
		"kubernetes.io/serviceaccount/secret.name":          "wfrun-token",
		"kubernetes.io/serviceaccount/service-account.name": "wfrun",
		"kubernetes.io/serviceaccount/service-account.uid":  "sa-uid-1",
	}) + "." + base64.RawURLEncoding.EncodeToString([]byte("signature-not-checked-by-vault"))
}

func TestKubernetesAuth(t *testing.T) {
	srv := vaulttest.Start(t)
	ctx := context.Background()
	srv.Put(t, "secret", "wfrun/a", map[string]any{"value": "a1"})
	srv.Policy(t, "wfrun-read", readPolicy)

	jwt := serviceAccountJWT()
	var reviews atomic.Int64
	k8s := fakeKubernetes(t, jwt, &reviews)
	if err := srv.Client(t).Sys().EnableAuthWithOptions("k8s", &api.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	srv.Write(t, "auth/k8s/config", map[string]any{"kubernetes_host": k8s.URL, "disable_local_ca_jwt": true})
	srv.Write(t, "auth/k8s/role/wfrun", map[string]any{
		"bound_service_account_names": "wfrun", "bound_service_account_namespaces": "default",
		"token_policies": "wfrun-read", "token_ttl": "20m",
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(jwt+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := newStore(t, vault.Options{Address: srv.Addr, Prefix: "wfrun", Kubernetes: vault.Kubernetes{Role: "wfrun", Mount: "k8s", TokenFile: tokenFile}})
	defer s.Close()
	if got, err := s.Get(ctx, "a"); err != nil || string(got.Value) != `"a1"` {
		t.Fatalf("kubernetes login: %v", err)
	}
	if reviews.Load() != 1 {
		t.Fatalf("%d token reviews, want 1", reviews.Load())
	}

	// Another pod's token is refused, and the error shows no part of it.
	sig := base64.RawURLEncoding.EncodeToString([]byte("another-pods-signature"))
	other := jwt[:strings.LastIndex(jwt, ".")+1] + sig
	if err := os.WriteFile(tokenFile, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := newStore(t, vault.Options{Address: srv.Addr, Prefix: "wfrun", Kubernetes: vault.Kubernetes{Role: "wfrun", Mount: "k8s", TokenFile: tokenFile}})
	_, err := bad.Get(ctx, "a")
	if !errors.Is(err, store.ErrForbidden) || strings.Contains(err.Error(), sig) {
		t.Fatalf("refused kubernetes login: %v", err)
	}
	missing := newStore(t, vault.Options{Address: srv.Addr, Kubernetes: vault.Kubernetes{Role: "wfrun", Mount: "k8s", TokenFile: tokenFile + ".none"}})
	if _, err := missing.Get(ctx, "a"); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("missing token file: %v", err)
	}
}

// TestOpenTLS opens a vault:// (HTTPS) URL the way the CLI does, with the
// dev server's CA from VAULT_CACERT.
func TestOpenTLS(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.TLS())
	srv.Put(t, "secret", "wfrun/a", map[string]any{"value": "a1"})
	host := strings.TrimPrefix(srv.Addr, "https://")
	env := map[string]string{"VAULT_TOKEN": vaulttest.RootToken, "VAULT_CACERT": srv.CACert}
	cfg := open.Config{URL: "vault://" + host + "/secret?prefix=wfrun/", Getenv: func(k string) string { return env[k] }}
	s, err := open.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Get(context.Background(), "a"); err != nil || string(got.Value) != `"a1"` {
		t.Fatalf("https get: %v", err)
	}

	// Without the CA the server's certificate is not trusted.
	delete(env, "VAULT_CACERT")
	s2, err := open.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Get(context.Background(), "a"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

func TestMountMustBeKVv2(t *testing.T) {
	srv := vaulttest.Start(t)
	c := srv.Client(t)
	if err := c.Sys().Mount("kv1", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	for mount, want := range map[string]string{"kv1": "KV version 1", "transit": `"transit" engine`} {
		s := newStore(t, vault.Options{Address: srv.Addr, Token: vaulttest.RootToken, Mount: mount})
		_, err := s.Get(context.Background(), "x")
		if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", mount, err, want)
		}
		s.Close()
	}
	// A token limited to its folder passes the check and reads.
	srv.Put(t, "secret", "wfrun/a", map[string]any{"value": "a1"})
	srv.Policy(t, "wfrun-read", readPolicy)
	tok := srv.Token(t, &api.TokenCreateRequest{Policies: []string{"wfrun-read"}, NoDefaultPolicy: true})
	s := newStore(t, vault.Options{Address: srv.Addr, Token: tok.ClientToken, Prefix: "wfrun"})
	defer s.Close()
	if got, err := s.Get(context.Background(), "a"); err != nil || string(got.Value) != `"a1"` {
		t.Fatalf("limited token: %v", err)
	}
}
