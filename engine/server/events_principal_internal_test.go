package server

import (
	"errors"
	"reflect"
	"testing"

	"github.com/wfrun/wfrun/store"
)

// TestHandlerPrincipal: a handler acts as its owner with the scopes the
// owner had when registering it that the configuration still grants; an
// owner no longer configured acts as nobody; without auth, as the local
// principal.
func TestHandlerPrincipal(t *testing.T) {
	cfg, err := ParseAuthConfig([]byte(`
applications:
  - keyId: ops
    keySecret: ops-secret-0123456789
    scopes: ["workflows:start:a*", "metadata:write:*"]
taskclusterClients:
  - clientId: tc
    accessToken: tc-token-0123456789
    principal: ops
    scopes: ["workflows:manage:b"]
anonymousScopes: ["workflows:start:public"]
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{auth: cfg}
	cases := []struct {
		name  string
		owner store.Principal
		want  []string
		err   error
	}{
		{"scopes still granted", store.Principal{Name: "ops", Scopes: []string{"workflows:start:a*", "workflows:manage:b"}},
			[]string{"workflows:start:a*", "workflows:manage:b"}, nil},
		{"a scope taken away is not used", store.Principal{Name: "ops", Scopes: []string{"workflows:start:*", "workflows:start:ab"}},
			[]string{"workflows:start:ab"}, nil},
		{"no scope gained since", store.Principal{Name: "ops", Scopes: nil}, nil, nil},
		{"anonymous", store.Principal{Name: "anonymous", Scopes: []string{"workflows:start:public", "workflows:start:x"}},
			[]string{"workflows:start:public"}, nil},
		{"owner gone", store.Principal{Name: "former", Scopes: []string{"*"}}, nil, errOwnerGone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := s.handlerPrincipal(c.owner)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err == nil && (p.Name != c.owner.Name || !reflect.DeepEqual(p.Scopes, c.want)) {
				t.Errorf("principal %+v, want scopes %v", p, c.want)
			}
		})
	}
	if p, err := (&Server{}).handlerPrincipal(store.Principal{Name: "x"}); err != nil || p.Name != store.LocalPrincipal.Name {
		t.Errorf("without auth: %+v %v", p, err)
	}
}
