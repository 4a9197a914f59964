package open_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/open"
)

// kvServer answers KV v2 reads like Vault and records what it was asked.
type kvServer struct {
	mu   sync.Mutex
	seen []string
}

func (k *kvServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.seen = append(k.seen, fmt.Sprintf("%s %s token=%s ns=%s", r.Method, r.URL.Path, r.Header.Get("X-Vault-Token"), r.Header.Get("X-Vault-Namespace")))
	k.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/lookup-self") {
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/sys/internal/ui/mounts/") {
		fmt.Fprint(w, `{"data":{"type":"kv","options":{"version":"2"}}}`)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/data/p/missing") {
		http.Error(w, `{"errors":[]}`, http.StatusNotFound)
		return
	}
	fmt.Fprint(w, `{"data":{"data":{"value":"v"},"metadata":{"version":3,"created_time":"2026-01-02T03:04:05Z"}}}`)
}

func TestOpenVaultURL(t *testing.T) {
	kv := &kvServer{}
	srv := httptest.NewServer(kv)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	env := map[string]string{"VAULT_TOKEN": "tok", "VAULT_NAMESPACE": "team"}

	for _, c := range []struct{ url, want string }{
		{"vault+http://" + host + "/kv?prefix=p/", "GET /v1/kv/data/p/x token=tok ns=team"},
		{"vault+http://" + host + "/kv/?prefix=/p&namespace=other", "GET /v1/kv/data/p/x token=tok ns=other"},
		{"vault:///kv?prefix=p", "GET /v1/kv/data/p/x token=tok ns=team"}, // address from VAULT_ADDR
	} {
		kv.seen = nil
		e := map[string]string{"VAULT_ADDR": srv.URL}
		for k, v := range env {
			e[k] = v
		}
		s, err := open.Open(context.Background(), cfg(t, c.url, e))
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		got, err := s.Get(context.Background(), "x")
		if err != nil || string(got.Value) != `"v"` || got.Version != 3 {
			t.Fatalf("%s: %v %v", c.url, got, err)
		}
		if _, err := s.Get(context.Background(), "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: missing: %v", c.url, err)
		}
		if _, err := s.Put(context.Background(), &store.Secret{Name: "x"}); !errors.Is(err, store.ErrReadOnly) {
			t.Fatalf("%s: put: %v", c.url, err)
		}
		s.Close()
		if !slices.Contains(kv.seen, c.want) {
			t.Fatalf("%s: requests %q, want %q among them", c.url, kv.seen, c.want)
		}
	}
}

func TestOpenVaultLayered(t *testing.T) {
	kv := &kvServer{}
	srv := httptest.NewServer(kv)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := cfg(t, "env:|vault+http://"+host+"/secret?prefix=p|bolt:", map[string]string{"VAULT_TOKEN": "tok", "WFRUN_SECRET_x": "from-env"})
	s, err := open.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Writes skip env and Vault and land in the file.
	if _, err := s.Put(ctx, &store.Secret{Name: "missing", Value: []byte(`"in-bolt"`)}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"y": `"v"`, "missing": `"in-bolt"`} {
		if got, err := s.Get(ctx, name); err != nil || string(got.Value) != want {
			t.Fatalf("%s: %v %v, want %s", name, got, err, want)
		}
	}
}

func TestOpenVaultBadURLs(t *testing.T) {
	withToken := map[string]string{"VAULT_TOKEN": "tok"}
	for _, c := range []struct {
		url  string
		env  map[string]string
		want string
	}{
		{"vault://user:pw@vault:8200/secret", withToken, "credentials do not go in the URL"},
		{"vault://vault:8200/secret?token=x", withToken, `unknown parameter "token"`},
		{"vault://vault:8200/secret", nil, "no Vault credentials"},
		{"vault://vault:8200/secret?auth=approle", withToken, "VAULT_ROLE_ID"},
		{"vault://vault:8200/secret?auth=ldap", withToken, `unknown Vault auth method "ldap"`},
		{"vault+http:///secret", withToken, "needs HOST:PORT"},
		{"vault://vault:8200/secret?prefix=../x", withToken, "prefix"},
	} {
		_, err := open.Open(context.Background(), cfg(t, c.url, c.env))
		if !errors.Is(err, open.ErrBadURL) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.url, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: error shows the URL's password: %v", c.url, err)
		}
	}
	// AppRole and Kubernetes settings come from the environment (Prefect's names).
	for _, env := range []map[string]string{
		{"VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s"},
		{"VAULT_KUBE_AUTH_ROLE": "wfrun", "VAULT_KUBE_AUTH_PATH": "k8s"},
	} {
		s, err := open.Open(context.Background(), cfg(t, "vault://vault.example:8200/secret", env))
		if err != nil {
			t.Fatalf("%v: %v", env, err)
		}
		s.Close()
	}
}
