package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// updateVariables is Orkes' POST /api/workflow/{id}/variables (the JS
// SDK's WorkflowExecutor.updateVariables): the body's members replace the
// run's variables of their names, as a SET_VARIABLE task sets them
// (engine.UpdateVariables: masked, `_secrets` sealed, within the
// variables' size limit), and the answer is the run's Workflow after the
// update, as Orkes answers it. The caller needs to change the run
// (workflows:manage of its workflow, or having started it: condRun). A
// body that is not a JSON object, or an update over the size limit, is a
// 400; a run that has ended a 409.
func (s *Server) updateVariables(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		conductorError(w, r, http.StatusBadRequest, "variables: the body must be a JSON object")
		return
	}
	id := r.PathValue("id")
	err = s.conductor.eng.UpdateVariables(r.Context(), id, body, false)
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrBadVariables):
		conductorError(w, r, http.StatusBadRequest, s.masker.MaskString(err.Error()))
		return
	default:
		s.runError(w, r, err)
		return
	}
	doc, err := s.execution(r.Context(), id)
	if err != nil {
		s.runError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}
