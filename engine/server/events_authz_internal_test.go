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

// TestReadableExecutions: each execution is checked against the event it
// was recorded for (a handler re-pointed while a message was in flight
// still records it under the old event).
func TestReadableExecutions(t *testing.T) {
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
		{ID: "a_0", Name: "h", Event: "conductor:orders:q"},
		{ID: "b_0", Name: "h", Event: "conductor:vault:q"},
		{ID: "c_0", Name: "h", Event: "conductor:q"},
		{ID: "d_0", Name: "h", Event: "kafka:orders"},
	}
	var ids []string
	for _, x := range (&Server{auth: cfg}).readableExecutions(bob, slices.Clone(list)) {
		ids = append(ids, x.ID)
	}
	if !slices.Equal(ids, []string{"a_0"}) {
		t.Errorf("bob reads %v, want [a_0]", ids)
	}
	if got := (&Server{}).readableExecutions(bob, slices.Clone(list)); len(got) != len(list) {
		t.Errorf("without auth: %d of %d", len(got), len(list))
	}
}
