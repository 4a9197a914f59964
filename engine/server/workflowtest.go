package server

import (
	"net/http"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// workflowTestRequest is Conductor's WorkflowTestRequest: a start request
// (a registered definition by name and version, or an inline workflowDef)
// with the mocked outcomes of its tasks.
type workflowTestRequest struct {
	startRequest
	engine.Mocks
}

// testWorkflow is POST /api/workflow/test (Conductor's WorkflowTestService):
// it starts a test run (engine.AsTest) as POST /api/workflow starts a run —
// the same checks, the same principal — and answers the run, in the shape
// and masked view of GET /api/workflow/{id}, once the mocks have taken it
// as far as they go: to its end, or to the pass that finds a task without a
// mock (or Conductor's limit of 20 000 passes), as that pass found it. A
// SIMPLE task is never offered to a worker: it waits in the test's own
// domain.
func (s *Server) testWorkflow(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var req workflowTestRequest
	if !s.decodeRequest(w, r, "WorkflowTestRequest", &req) {
		return
	}
	test, err := engine.NewTest(&req.Mocks)
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, "WorkflowTestRequest: "+s.masker.MaskString(err.Error()))
		return
	}
	start := req.startRequest
	// As Conductor does, every worker task of the test run (and of its
	// children, which inherit it) is queued in a domain of its own that no
	// worker polls: a task without a mock, which the run keeps waiting,
	// is never handed to one, also after the run is resumed without its
	// mocks (another serve process, a restart). A task type the request
	// maps itself keeps its domain, as in Conductor.
	domains := map[string]string{"*": newRunID()}
	for k, v := range start.TaskToDomain {
		if k != "*" {
			domains[k] = v
		}
	}
	start.TaskToDomain = domains
	start.extra, start.test = []engine.RunOption{engine.AsTest(test)}, true
	start.answer = func(w http.ResponseWriter, r *http.Request, id string) {
		select {
		case <-test.Stopped():
		case <-r.Context().Done():
			return // the client left; the run goes on
		}
		// The run as the pass where the test stopped found it, before
		// any task moved on (engine.Test.Answer); the run as it ended
		// when it did not stop in a pass.
		var doc map[string]any
		var err error
		if view := test.Answer(); view != nil {
			doc, err = s.executionDoc(view)
		} else {
			doc, err = s.execution(r.Context(), id)
		}
		if err != nil {
			s.runError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, doc)
	}
	s.start(w, r, p, start)
}
