package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// startOptions are StartWorkflowRequest's members beyond the definition,
// input and correlation id: the run's priority and taskToDomain, and an
// idempotent start (engine/domains.go, engine/idempotency.go).
type startOptions struct {
	Priority            int               `json:"priority"`
	TaskToDomain        map[string]string `json:"taskToDomain"`
	IdempotencyKey      string            `json:"idempotencyKey"`
	IdempotencyStrategy string            `json:"idempotencyStrategy"`
}

// fromQuery reads POST /api/workflow/{name}'s priority parameter.
func (o *startOptions) fromQuery(w http.ResponseWriter, r *http.Request) bool {
	v := strings.TrimSpace(r.URL.Query().Get("priority"))
	if v == "" {
		return true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, "priority must be an integer from 0 to 99")
		return false
	}
	o.Priority = n
	return true
}

// startWith checks the options of the start of run id (a workflow named
// workflow) and claims its idempotency key. It returns the run options they
// give, or the id of the run already holding the key when the strategy is
// RETURN_EXISTING (the start answers it and starts nothing); false when it
// answered the request (a bad option: 400; the key in use: 409, also for
// RETURN_EXISTING when p may not read the run holding it).
func (s *Server) startWith(w http.ResponseWriter, r *http.Request, p store.Principal, o *startOptions, workflow, id string) ([]engine.RunOption, string, bool) {
	if err := engine.CheckPriority(o.Priority); err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return nil, "", false
	}
	for k, v := range o.TaskToDomain {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			conductorError(w, r, http.StatusBadRequest, "taskToDomain: a task type and its domains must not be empty")
			return nil, "", false
		}
	}
	if err := engine.CheckIdempotencyStrategy(o.IdempotencyStrategy); err != nil {
		conductorError(w, r, http.StatusBadRequest, err.Error())
		return nil, "", false
	}
	opts := []engine.RunOption{engine.WithPriority(o.Priority), engine.WithTaskToDomain(o.TaskToDomain)}
	if o.IdempotencyKey == "" {
		return opts, "", true
	}
	existing, err := s.conductor.eng.ClaimIdempotencyKey(r.Context(), workflow, o.IdempotencyKey, o.IdempotencyStrategy, id)
	switch {
	case errors.Is(err, engine.ErrIdempotencyConflict):
		s.idempotencyConflict(w, r, p, err)
		return nil, "", false
	case err != nil:
		s.runError(w, r, err)
		return nil, "", false
	case existing != "" && !s.mayDoRun(r.Context(), p, existing, needRead):
		s.idempotencyConflict(w, r, p, &engine.IdempotencyConflictError{Workflow: workflow, Key: o.IdempotencyKey, RunID: existing,
			Strategy: o.IdempotencyStrategy})
		return nil, "", false
	case existing != "":
		return nil, existing, true
	}
	return append(opts, engine.WithIdempotencyKey(o.IdempotencyKey)), "", true
}

// releaseStart gives up the idempotency key of a start that failed before
// its run was stored.
func (s *Server) releaseStart(r *http.Request, o *startOptions, workflow, id string) {
	if o.IdempotencyKey != "" {
		_ = s.conductor.eng.ReleaseIdempotencyKey(context.WithoutCancel(r.Context()), workflow, o.IdempotencyKey, id)
	}
}
