package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// Access control of the Conductor API's workflow and metadata endpoints
// (the scopes are listed on AuthConfig). Without --auth every caller is
// the local principal, which holds "*": nothing here refuses anything.
//
// A caller that may not read a run is answered exactly as for a run that
// does not exist (404 "workflow not found: <id>", after the same store
// read), on every endpoint that names a run: run ids travel in logs and
// URLs, and an answer that told "exists, not yours" from "no such run"
// would confirm ids and, with its scope, the run's workflow. A caller that
// may read a run but not change it gets 403 naming the scope it lacks.

// runNeed is what an endpoint does to a run.
type runNeed int

const (
	needRead runNeed = iota
	needManage
)

// allowed: auth is off, or p holds scope.
func (s *Server) allowed(p store.Principal, scope string) bool {
	return s.auth == nil || p.Satisfies(scope)
}

// forbid answers 403 in Conductor's error shape: one line naming the
// principal and the scope it lacks.
func (s *Server) forbid(w http.ResponseWriter, r *http.Request, p store.Principal, scope string) {
	s.log.Warn("forbidden", "path", r.URL.Path, "principal", p.Name, "scope", scope)
	conductorError(w, r, http.StatusForbidden, "principal "+p.Name+" lacks scope "+scope)
}

// mayStart checks workflows:start:<name>; it answers 403 itself.
func (s *Server) mayStart(w http.ResponseWriter, r *http.Request, p store.Principal, name string) bool {
	if s.allowed(p, ScopeWorkflowStart+name) {
		return true
	}
	s.forbid(w, r, p, ScopeWorkflowStart+name)
	return false
}

// mayReadStarted checks, before a start whose answer is the run itself
// (POST /api/workflow/execute, /api/workflow/test), that p could read the
// run it would start: it owns it, or holds workflows:read or
// workflows:manage of its workflow. The anonymous principal owns nothing,
// so one that may start a workflow but not read it is refused here, with
// 403 naming workflows:read:<name>, and nothing is started.
func (s *Server) mayReadStarted(w http.ResponseWriter, r *http.Request, p store.Principal, name string) bool {
	if s.auth == nil {
		return true
	}
	if ok, _, missing := mayRunAs(p, needRead, name, p.Name); !ok {
		s.forbid(w, r, p, missing)
		return false
	}
	return true
}

// mayShadow checks, before a start with an inline definition, that p may
// write the registered definition of that name when there is one: the run
// goes by the name (its workflowType, its searches, the event queues
// conductor:<name>:… its EVENT tasks publish to, which handlers of that
// workflow trust), so only who may change the registered definition may
// run another under its name. Conductor OSS checks nothing; a name no
// definition holds needs no more than workflows:start; a workflow test
// (POST /api/workflow/test, which sends the definition it tests) is not
// checked. Whatever the name, an event handler acts on a message only
// with its publisher's rights (events_authz.go). It answers 403 itself.
func (s *Server) mayShadow(w http.ResponseWriter, r *http.Request, p store.Principal, name string) bool {
	if s.auth == nil || s.allowed(p, ScopeMetadataWrite+name) {
		return true
	}
	if _, err := s.conductor.defs.workflow(name, 0); errors.Is(err, ErrNoDefinition) {
		return true
	}
	s.forbid(w, r, p, ScopeMetadataWrite+name)
	return false
}

// mayWriteMetadata checks metadata:write:<name> for every name (all or
// nothing: a list is refused before any of it is written); it answers
// 403 itself.
func (s *Server) mayWriteMetadata(w http.ResponseWriter, r *http.Request, p store.Principal, names ...string) bool {
	for _, n := range names {
		// A definition without a name is refused as invalid, later.
		if n != "" && !s.allowed(p, ScopeMetadataWrite+n) {
			s.forbid(w, r, p, ScopeMetadataWrite+n)
			return false
		}
	}
	return true
}

// owns: p started the run (runPrincipal is the run's stored principal).
// Nobody owns through the anonymous principal, which every caller without
// credentials shares.
func owns(p store.Principal, runPrincipal string) bool {
	return p.Name != "" && p.Name != "anonymous" && p.Name == runPrincipal
}

// mayRunAs reports whether p may do need to a run of workflowType started
// by runPrincipal, and the scope it lacks when not.
func mayRunAs(p store.Principal, need runNeed, workflowType, runPrincipal string) (ok, readable bool, missing string) {
	if owns(p, runPrincipal) {
		return true, true, ""
	}
	readable = p.Satisfies(ScopeWorkflowRead+workflowType) || p.Satisfies(ScopeWorkflowManage+workflowType)
	switch {
	case !readable:
		return false, false, ScopeWorkflowRead + workflowType
	case need == needManage && !p.Satisfies(ScopeWorkflowManage+workflowType):
		return false, true, ScopeWorkflowManage + workflowType
	}
	return true, true, ""
}

// runOwner reads run id's workflow name and stored principal.
func (s *Server) runOwner(ctx context.Context, id string) (workflowType, principal string, err error) {
	view, err := s.conductor.eng.Show(ctx, id)
	if err != nil {
		return "", "", err
	}
	workflowType, principal = viewOwner(view)
	return workflowType, principal, nil
}

// viewOwner reads a run view's workflow name and stored principal.
func viewOwner(view []byte) (workflowType, principal string) {
	res := gjson.GetManyBytes(view, "workflowType", "principal.name")
	return res[0].String(), res[1].String()
}

// mayRun checks that p may do need to run id; it answers 404 or 403
// itself (see the top of this file).
func (s *Server) mayRun(w http.ResponseWriter, r *http.Request, p store.Principal, id string, need runNeed) bool {
	if s.auth == nil {
		return true
	}
	_, ok := s.loadRun(w, r, p, id, need)
	return ok
}

// loadRun is mayRun for a handler that reads the run too: it loads the
// run's view once, for the check and for the handler. When it answers
// itself (the run's absence, 404 or 403) it returns false.
func (s *Server) loadRun(w http.ResponseWriter, r *http.Request, p store.Principal, id string, need runNeed) ([]byte, bool) {
	view, err := s.conductor.eng.Show(r.Context(), id)
	if err != nil {
		if s.auth != nil && errors.Is(err, runstore.ErrNotFound) {
			conductorError(w, r, http.StatusNotFound, "workflow not found: "+id)
			return nil, false
		}
		s.runError(w, r, err)
		return nil, false
	}
	if s.auth == nil {
		return view, true
	}
	wfType, owner := viewOwner(view)
	ok, readable, missing := mayRunAs(p, need, wfType, owner)
	switch {
	case ok:
		return view, true
	case !readable:
		s.log.Warn("forbidden", "path", r.URL.Path, "principal", p.Name, "scope", missing)
		conductorError(w, r, http.StatusNotFound, "workflow not found: "+id)
	default:
		s.forbid(w, r, p, missing)
	}
	return nil, false
}

// condRun is cond for an endpoint on the run named by the path value
// param: the caller needs need on it.
func (s *Server) condRun(need runNeed, param string, h conductorHandler) http.HandlerFunc {
	return s.cond(func(w http.ResponseWriter, r *http.Request, p store.Principal) {
		if !s.mayRun(w, r, p, r.PathValue(param), need) {
			return
		}
		h(w, r, p)
	})
}

// mayReadSummary reports whether p may see run sum in a search; owner
// reads the run's stored principal when the summary does not say (one
// written before summaries recorded it).
func (s *Server) mayReadSummary(p store.Principal, sum runstore.Summary, owner func() string) bool {
	if s.auth == nil || p.Satisfies(ScopeWorkflowRead+sum.WorkflowType) || p.Satisfies(ScopeWorkflowManage+sum.WorkflowType) {
		return true
	}
	return owns(p, owner())
}

// mayDoRun reports whether p may do need to run id (read it; change it:
// workflows:manage, or having started it); false as well when it cannot
// be read at all.
func (s *Server) mayDoRun(ctx context.Context, p store.Principal, id string, need runNeed) bool {
	if s.auth == nil {
		return true
	}
	wfType, owner, err := s.runOwner(ctx, id)
	if err != nil {
		return false
	}
	ok, _, _ := mayRunAs(p, need, wfType, owner)
	return ok
}

// idempotencyConflict answers 409 for a start whose idempotency key a run
// holds; the holder's id and status only to a caller that may read it.
func (s *Server) idempotencyConflict(w http.ResponseWriter, r *http.Request, p store.Principal, err error) {
	var ce *engine.IdempotencyConflictError
	if errors.As(err, &ce) && !s.mayDoRun(r.Context(), p, ce.RunID, needRead) {
		strategy := ce.Strategy
		if strategy == "" {
			strategy = engine.IdempotencyFail
		}
		conductorError(w, r, http.StatusConflict, s.masker.MaskString(fmt.Sprintf(
			"workflow %s with idempotencyKey %q already exists (idempotencyStrategy %s)", ce.Workflow, ce.Key, strategy)))
		return
	}
	conductorError(w, r, http.StatusConflict, s.masker.MaskString(err.Error()))
}
