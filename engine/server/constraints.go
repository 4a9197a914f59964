package server

import (
	"net/http"
	"strconv"

	"github.com/wfrun/wfrun/engine"
)

// constraintViolation is one entry of the validationErrors Conductor
// answers when a request breaks a bean-validation constraint of its
// service (ValidationExceptionMapper): the constraint's path (the service
// method, its parameter, then the member), its message, and the value it
// refused when that is a plain value (invalidValue; none for null).
type constraintViolation struct {
	Path    string  `json:"path"`
	Message string  `json:"message"`
	Invalid *string `json:"invalidValue,omitempty"`
}

// constraintsFailed answers violations as Conductor's
// ConstraintViolationException: a 400 whose message sends the reader to the
// list, with no instance (the mapper sets none) and not retryable.
func constraintsFailed(w http.ResponseWriter, r *http.Request, violations []constraintViolation) {
	for i, v := range violations {
		// The refused value and the messages quoting it are the client's
		// text (maskAnswer).
		violations[i].Message = maskAnswer(r, v.Message)
		if v.Invalid != nil {
			m := maskAnswer(r, *v.Invalid)
			violations[i].Invalid = &m
		}
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"status": http.StatusBadRequest, "message": "Validation failed, check below errors for detail.",
		"retryable": false, "validationErrors": violations,
	})
}

// priorityViolation is the constraint a start's priority breaks, if any:
// path and messages are the constraints of the start it came with
// (StartWorkflowRequest's for a request body, WorkflowService.startWorkflow's
// own for POST /api/workflow/{name}).
func priorityViolation(p int, byName bool) []constraintViolation {
	if p >= 0 && p <= engine.MaxPriority {
		return nil
	}
	v := strconv.Itoa(p)
	if byName {
		msg := "0 is the minimum priority value"
		if p > engine.MaxPriority {
			msg = strconv.Itoa(engine.MaxPriority) + " is the maximum priority value"
		}
		return []constraintViolation{{Path: "startWorkflow.priority", Message: msg, Invalid: &v}}
	}
	msg := "priority: " + v + " should be minimum 0"
	if p > engine.MaxPriority {
		msg = "priority: " + v + " should be maximum " + strconv.Itoa(engine.MaxPriority)
	}
	return []constraintViolation{{Path: "startWorkflow.startWorkflowRequest.priority", Message: msg, Invalid: &v}}
}
