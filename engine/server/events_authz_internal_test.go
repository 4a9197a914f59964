package server

import (
	"slices"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// TestIntersectScopes: the acting principal of an action satisfies a
// requirement exactly when both the handler's owner and the publisher do.
func TestIntersectScopes(t *testing.T) {
	owner := store.Principal{Name: "admin", Scopes: []string{"*"}}
	pub := store.Principal{Name: "bob", Scopes: []string{"workflows:start:orders", "metadata:write:bob_*", "secrets:get:tag:team=b*"}}
	narrow := store.Principal{Name: "ops", Scopes: []string{"workflows:start:o*", "secrets:get:t*", "secrets:get:tag:team=bo*"}}
	cases := []struct {
		a, b     store.Principal
		required string
		want     bool
	}{
		{owner, pub, "workflows:start:orders", true},
		{owner, pub, "workflows:start:deploy", false},
		{owner, pub, "workflows:manage:vault", false},
		{owner, pub, "secrets:get:deploy_token", false},
		{owner, pub, "metadata:write:bob_x", true},
		{narrow, pub, "workflows:start:orders", true},
		{narrow, pub, "workflows:start:other", false},
		{narrow, pub, "metadata:write:bob_x", false},
		{narrow, owner, "secrets:get:tok", true},
		{narrow, pub, "secrets:get:tag:team=bob", true}, // two tag grants: the narrower
		{narrow, pub, "secrets:get:tag:team=b", false},
		{owner, narrow, "secrets:get:tag:team=bob", true},
	}
	for _, c := range cases {
		act := actingPrincipal(c.a, c.b)
		if got := act.Satisfies(c.required); got != c.want {
			t.Errorf("%s ∩ %s satisfies %s = %v (scopes %v), want %v", c.a.Name, c.b.Name, c.required, got, act.Scopes, c.want)
		}
		if act.Satisfies(c.required) && !(c.a.Satisfies(c.required) && c.b.Satisfies(c.required)) {
			t.Errorf("%s ∩ %s grants %s that one of them lacks", c.a.Name, c.b.Name, c.required)
		}
		if act.Name != c.a.Name {
			t.Errorf("acting principal named %s, want the owner %s", act.Name, c.a.Name)
		}
	}
	// A name scope never covers a tag grant: "*" ∩ a tag grant keeps it
	// only when both are tag grants.
	if got := intersectScopes([]string{"secrets:get:t*"}, []string{"secrets:get:tag:team=x"}); len(got) != 0 {
		t.Errorf("a name scope ∩ a tag grant = %v, want nothing", got)
	}
}

// TestMayReceive: a handler's owner receives a message only when it may
// read the queue's workflow and the publishing run, and the message came
// from a run of that workflow.
func TestMayReceive(t *testing.T) {
	cfg, err := ParseAuthConfig([]byte(`
applications:
  - keyId: bob
    keySecret: bob-secret-0123456789
    scopes: ["workflows:read:orders", "workflows:start:bob_wf"]
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{auth: cfg}
	bob := store.Principal{Name: "bob", Scopes: []string{"workflows:read:orders", "workflows:start:bob_wf"}}
	pub := func(wf, who string) *engine.EventPublisher {
		return &engine.EventPublisher{RunID: "r1", WorkflowType: wf, Principal: engine.Principal{Name: who}}
	}
	cases := []struct {
		name  string
		queue string
		pub   *engine.EventPublisher
		ok    bool
	}{
		{"readable workflow", "orders:q", pub("orders", "admin"), true},
		{"unreadable workflow", "vault:q", pub("vault", "admin"), false},
		{"publisher of another workflow", "orders:q", pub("vault", "admin"), false},
		{"no workflow, unreadable run", "q", pub("vault", "admin"), false},
		{"no workflow, own run", "q", pub("bob_wf", "bob"), true},
	}
	for _, c := range cases {
		if why := s.mayReceive(bob, c.queue, c.pub); (why == "") != c.ok {
			t.Errorf("%s: mayReceive = %q, want ok=%v", c.name, why, c.ok)
		}
	}
	if why := (&Server{}).mayReceive(bob, "vault:q", pub("vault", "admin")); why != "" {
		t.Errorf("without auth: %q", why)
	}
	if _, err := s.publisherPrincipal(nil); err == nil {
		t.Error("a message without publisher has a principal")
	}
}

// TestExecutionsOf: a handler shows the executions of its current
// definition only — its generation, and the event it listens to, which is
// what mayReadHandler checks (a message a handler re-pointed meanwhile
// recorded under the old event is not shown as its); a reader of the
// handler's workflow may read them all, another may read none.
func TestExecutionsOf(t *testing.T) {
	cfg, err := ParseAuthConfig([]byte(`
applications:
  - keyId: bob
    keySecret: bob-secret-0123456789
    scopes: ["workflows:read:orders"]
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	bob := store.Principal{Name: "bob", Scopes: []string{"workflows:read:orders"}}
	list := []eventExecution{
		{ID: "a_0", Name: "h", Event: "conductor:orders:q", Generation: "g2"},
		{ID: "b_0", Name: "h", Event: "conductor:vault:q", Generation: "g2"},
		{ID: "c_0", Name: "h", Event: "conductor:orders:q", Generation: "g1"},
		{ID: "d_0", Name: "h", Event: "kafka:orders", Generation: "g2"},
		{ID: "e_0", Name: "h", Event: "conductor:orders:q", Generation: "g2"},
	}
	cases := []struct {
		event, gen string
		want       []string
		bobReads   bool
	}{
		{"conductor:orders:q", "g2", []string{"a_0", "e_0"}, true},
		{"conductor:vault:q", "g2", []string{"b_0"}, false},
		{"conductor:orders:q", "g1", []string{"c_0"}, true},
		{"conductor:orders:q", "", nil, true},
	}
	for _, c := range cases {
		l := &handlerLoaded{h: &eventHandler{Name: "h", Event: c.event}, gen: c.gen}
		var ids []string
		for _, x := range executionsOf(l, slices.Clone(list)) {
			ids = append(ids, x.ID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("handler on %s, generation %q shows %v, want %v", c.event, c.gen, ids, c.want)
		}
		if got := (&Server{auth: cfg}).mayReadHandler(bob, l.h); got != c.bobReads {
			t.Errorf("bob may read the handler on %s: %v, want %v", c.event, got, c.bobReads)
		}
		if !(&Server{}).mayReadHandler(bob, l.h) {
			t.Errorf("without auth, bob may not read the handler on %s", c.event)
		}
	}
}
