package server

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/wfrun/wfrun/store"
)

// maxBulkIDs is Conductor's limit on the workflow ids of one bulk request
// (WorkflowBulkService.MAX_REQUEST_ITEMS).
const maxBulkIDs = 1000

// bulkResponse is Conductor's BulkResponse: the ids the operation was done
// to, and for each id it failed on, the message its single-run endpoint
// answered.
type bulkResponse struct {
	BulkErrorResults      map[string]string `json:"bulkErrorResults"`
	BulkSuccessfulResults []string          `json:"bulkSuccessfulResults"`
}

// bulk is one of /api/workflow/bulk/{pause,resume,restart,retry,terminate}
// (Conductor's WorkflowBulkResource): the body is a JSON array of workflow
// ids, and each id is handed, in order, to the single-run handler one (the
// same checks, access rules and outcome as POST /api/workflow/{id}/…, with
// the request's query: reason, useLatestDefinitions). Retry is without
// resumeSubworkflowTasks, as Conductor's bulk retry is.
func (s *Server) bulk(one http.HandlerFunc) conductorHandler {
	return func(w http.ResponseWriter, r *http.Request, _ store.Principal) {
		body, ok := s.readJSON(w, r)
		if !ok {
			return
		}
		var ids []string
		if err := json.Unmarshal(body, &ids); err != nil {
			conductorError(w, r, http.StatusBadRequest, "request body must be a JSON array of workflow ids")
			return
		}
		if len(ids) == 0 {
			conductorError(w, r, http.StatusBadRequest, "WorkflowIds list cannot be null.")
			return
		}
		if len(ids) > maxBulkIDs {
			conductorError(w, r, http.StatusBadRequest, "Cannot process more than "+strconv.Itoa(maxBulkIDs)+" workflows. Please use multiple requests.")
			return
		}
		resp := bulkResponse{BulkErrorResults: map[string]string{}, BulkSuccessfulResults: []string{}}
		for _, id := range ids {
			one1 := r.Clone(r.Context())
			one1.Body = http.NoBody
			one1.ContentLength = 0
			one1.SetPathValue("id", id)
			q := one1.URL.Query()
			q.Del("resumeSubworkflowTasks")
			one1.URL.RawQuery = q.Encode()
			rec := newRecorder()
			one(rec, one1)
			if rec.code() < 300 {
				resp.BulkSuccessfulResults = append(resp.BulkSuccessfulResults, id)
				continue
			}
			msg := answerMessage(rec.body.Bytes())
			if msg == "" {
				msg = http.StatusText(rec.code())
			}
			// Keyed by the id as given: the client's text, masked as the
			// message is (maskAnswer).
			resp.BulkErrorResults[maskAnswer(r, id)] = msg
		}
		writeJSON(w, http.StatusOK, resp)
	}
}
