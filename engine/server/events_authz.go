package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// Who an event handler's actions act for. A message is written by one
// principal (the publisher: the principal its EVENT task's run executes
// as, which the engine gives the queue with the message and the queue
// keeps with it, sealed in Redis) and acted on by another (the handler's
// owner). Neither may gain rights through the other:
//
//   - the owner must be allowed to read what it receives: the queue's
//     workflow (workflows:read:W or workflows:manage:W for an event
//     conductor:W:Q), checked when the handler is registered and again for
//     every message, and the publishing run itself. A handler on
//     conductor:Q (no workflow: no EVENT task publishes there, Conductor
//     accepts it) is checked against the publishing run only;
//   - a message without an authentic publisher acts as nobody;
//   - every action needs the rights of both: a run an action starts
//     executes as the owner's name with only the scopes both hold (the
//     intersection: start rights, secrets, everything the run does), so a
//     publisher cannot make the owner's secrets flow to it, and an owner
//     cannot run anything with the publisher's; complete_task, fail_task
//     and terminate_workflow need workflows:manage (or having started the
//     run) on the target run for the owner and for the publisher.
//
// Executing as the publisher instead would let an owner who may read a
// queue use every publisher's rights (its own workflow, run with another
// principal's secrets); executing as the owner let any publisher use the
// owner's. The intersection is what both consented to.

// errNoPublisher: a message that did not come from an EVENT task of a
// known run, or whose publisher does not open.
var errNoPublisher = errors.New("the message has no authentic publisher")

// actingPublisherKey carries the publisher's principal to the action's
// internal calls (mayActOn).
type actingPublisherKey struct{}

// publisherPrincipal is the principal a message's publisher acts with now:
// its run's principal with the scopes its current configuration still
// grants (as a handler's owner).
func (s *Server) publisherPrincipal(pub *engine.EventPublisher) (store.Principal, error) {
	if pub == nil {
		return store.Principal{}, errNoPublisher
	}
	if s.auth == nil {
		return store.LocalPrincipal, nil
	}
	return s.handlerPrincipal(store.Principal{Name: pub.Principal.Name, Scopes: pub.Principal.Scopes})
}

// queueWorkflow is the workflow W of a conductor queue "W:Q" ("" for a
// queue without one).
func queueWorkflow(queue string) string {
	w, _, ok := strings.Cut(queue, ":")
	if !ok {
		return ""
	}
	return w
}

// mayReceive reports why owner may not receive a message of queue
// published by pub (acting as publisher); "" when it may.
func (s *Server) mayReceive(owner store.Principal, queue string, pub *engine.EventPublisher) string {
	if s.auth == nil {
		return ""
	}
	if w := queueWorkflow(queue); w != "" {
		if w != pub.WorkflowType {
			return "the message's publishing run is not a " + w + " run"
		}
		if !mayReadWorkflow(owner, w) {
			return "the handler's owner lacks scope " + ScopeWorkflowRead + w
		}
	}
	if ok, _, missing := mayRunAs(owner, needRead, pub.WorkflowType, pub.Principal.Name); !ok {
		return "the handler's owner may not read the publishing run (lacks scope " + missing + ")"
	}
	return ""
}

// mayReadWorkflow: p holds workflows:read or workflows:manage of w.
func mayReadWorkflow(p store.Principal, w string) bool {
	return p.Satisfies(ScopeWorkflowRead+w) || p.Satisfies(ScopeWorkflowManage+w)
}

// mayListen checks, when a handler is registered, that p may read the
// workflow whose queue its event names; it answers 403 itself.
func (s *Server) mayListen(w http.ResponseWriter, r *http.Request, p store.Principal, event string) bool {
	rest, ok := strings.CutPrefix(event, engine.ConductorQueueType+":")
	if s.auth == nil || !ok {
		return true
	}
	if wf := queueWorkflow(rest); wf != "" && !mayReadWorkflow(p, wf) {
		s.forbid(w, r, p, ScopeWorkflowRead+wf)
		return false
	}
	return true
}

// actingPrincipal is who an action runs as: the owner's name with the
// scopes both owner and publisher hold.
func actingPrincipal(owner, publisher store.Principal) store.Principal {
	return store.Principal{Name: owner.Name, Scopes: intersectScopes(owner.Scopes, publisher.Scopes)}
}

// intersectScopes returns scopes that satisfy exactly the requirements
// both a and b satisfy. A scope satisfies its own text, and a scope
// ending in "*" every text it prefixes; so two scopes share what the
// narrower one satisfies when one covers the other, nothing otherwise.
// A tag grant (secrets:<action>:tag:<key>=<value>) is only ever covered by
// another tag grant, since a name scope never grants a tag.
func intersectScopes(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, x := range a {
		for _, y := range b {
			switch {
			case scopeCovers(x, y):
				add(y)
			case scopeCovers(y, x):
				add(x)
			}
		}
	}
	return out
}

// scopeCovers: every requirement y satisfies, x satisfies.
func scopeCovers(x, y string) bool {
	if isTagGrant(y) && !isTagGrant(x) {
		return false
	}
	if x == y {
		return true
	}
	pre, ok := strings.CutSuffix(x, "*")
	return ok && strings.HasPrefix(y, pre)
}

// isTagGrant: s reads as a tag grant (secrets:<action>:tag:…).
func isTagGrant(s string) bool {
	rest, ok := strings.CutPrefix(s, "secrets:")
	if !ok {
		return false
	}
	_, rest, ok = strings.Cut(rest, ":")
	return ok && strings.HasPrefix(rest, "tag:")
}

// withActingPublisher attaches the publisher's principal for mayActOn.
func withActingPublisher(ctx context.Context, p store.Principal) context.Context {
	return context.WithValue(ctx, actingPublisherKey{}, p)
}

// mayActOn checks that p, and the publisher an action acts for, may
// change run id (workflows:manage, or having started it); it answers 404
// or 403 itself, for the owner as mayRun does, for the publisher naming
// it.
func (s *Server) mayActOn(w http.ResponseWriter, r *http.Request, p store.Principal, id string) bool {
	if !s.mayRun(w, r, p, id, needManage) {
		return false
	}
	if s.auth == nil {
		return true
	}
	pub, ok := r.Context().Value(actingPublisherKey{}).(store.Principal)
	if !ok {
		conductorError(w, r, http.StatusForbidden, errNoPublisher.Error())
		return false
	}
	wfType, owner, err := s.runOwner(r.Context(), id)
	if err != nil {
		s.runError(w, r, err)
		return false
	}
	if ok, _, missing := mayRunAs(pub, needManage, wfType, owner); !ok {
		s.log.Warn("forbidden", "path", r.URL.Path, "principal", pub.Name, "scope", missing, "as", "event publisher")
		conductorError(w, r, http.StatusForbidden, fmt.Sprintf("the message's publisher %s lacks scope %s", pub.Name, missing))
		return false
	}
	return true
}
