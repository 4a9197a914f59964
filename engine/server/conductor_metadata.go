package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// metaError maps definition errors to Conductor statuses.
func (s *Server) metaError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNoDefinition):
		conductorError(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrDefinitionExists):
		conductorError(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, engine.ErrInvalidDefinition), errors.Is(err, errBadRequest):
		conductorError(w, r, http.StatusBadRequest, s.masker.MaskString(err.Error()))
	default:
		s.log.Error("definitions", "path", r.URL.Path, "error", err.Error())
		conductorError(w, r, http.StatusInternalServerError, s.masker.MaskString(err.Error()))
	}
}

var errBadRequest = errors.New("bad request")

// validateWorkflowDef checks a definition as the engine will run it. A
// definition holding in clear the value of a secret it names, as the
// registering principal p reads it, is refused as a run's start refuses
// it (engine.CheckDefinitionValues): the definitions store keeps it as it
// is, and every run of it would.
func (s *Server) validateWorkflowDef(ctx context.Context, p store.Principal, raw []byte) error {
	// A refusal before CheckDefinitionValues may quote a value of a
	// secret the definition names, typed where a name goes
	// (maskDefinitionError).
	return s.maskDefinitionError(ctx, p, raw, s.validWorkflowDef(ctx, p, raw))
}

func (s *Server) validWorkflowDef(ctx context.Context, p store.Principal, raw []byte) error {
	var h defHead
	if json.Unmarshal(raw, &h) == nil {
		if err := validDefName(h.Name); err != nil {
			return errors.Join(errBadRequest, err)
		}
	}
	prepared, err := s.conductor.defs.prepareDefinition(raw)
	if err != nil {
		return errors.Join(errBadRequest, errors.New("workflow definition: "+jsonErr(err)))
	}
	d, err := s.conductor.eng.Parse(prepared)
	if err != nil {
		return err
	}
	if err := engine.CheckRegistrable(d); err != nil {
		return err
	}
	return s.conductor.eng.CheckDefinitionValues(ctx, d, enginePrincipal(p), "", "")
}

func (s *Server) readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return nil, false
	}
	if !json.Valid(body) {
		var v any
		conductorError(w, r, http.StatusBadRequest, "request body: "+jsonErr(json.Unmarshal(body, &v)))
		return nil, false
	}
	return body, true
}

// decodeRequest reads a JSON body into v; a body that does not fit v is a
// 400 naming the request type (what) and the JSON problem. It reports
// whether the handler may go on.
func (s *Server) decodeRequest(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	body, ok := s.readJSON(w, r)
	if !ok {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		conductorError(w, r, http.StatusBadRequest, what+": "+jsonErr(err))
		return false
	}
	return true
}

// defName is the name of the definition raw ("" when it has none).
func defName(raw []byte) string {
	var h defHead
	_ = json.Unmarshal(raw, &h)
	return h.Name
}

// defNames are the names of the definitions in list.
func defNames(list []json.RawMessage) []string {
	out := make([]string, len(list))
	for i, d := range list {
		out[i] = defName(d)
	}
	return out
}

func (s *Server) registerWorkflow(w http.ResponseWriter, r *http.Request, p store.Principal) {
	body, ok := s.readJSON(w, r)
	if !ok || !s.mayWriteMetadata(w, r, p, defName(body)) {
		return
	}
	if err := s.validateWorkflowDef(r.Context(), p, body); err != nil {
		s.metaError(w, r, err)
		return
	}
	overwrite := r.URL.Query().Get("overwrite") != "false"
	if err := s.conductor.defs.putWorkflow(body, overwrite); err != nil {
		s.metaError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// updateWorkflows is PUT /api/metadata/workflow: a list, overwriting.
func (s *Server) updateWorkflows(w http.ResponseWriter, r *http.Request, p store.Principal) {
	body, ok := s.readJSON(w, r)
	if !ok {
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		conductorError(w, r, http.StatusBadRequest, "request body must be a JSON array of workflow definitions")
		return
	}
	if !s.mayWriteMetadata(w, r, p, defNames(list)...) {
		return
	}
	for _, d := range list {
		if err := s.validateWorkflowDef(r.Context(), p, d); err != nil {
			s.metaError(w, r, err)
			return
		}
	}
	for _, d := range list {
		if err := s.conductor.defs.putWorkflow(d, true); err != nil {
			s.metaError(w, r, err)
			return
		}
	}
	writeEmpty(w, http.StatusOK)
}

func rawList(items [][]byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(bytes.TrimSpace(it))
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

func (s *Server) listWorkflowDefs(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	all, err := s.conductor.defs.workflows("")
	if err != nil {
		s.metaError(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", rawList(all))
}

func (s *Server) getWorkflowDef(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			conductorError(w, r, http.StatusBadRequest, "version must be an integer")
			return
		}
		version = n
	}
	b, err := s.conductor.defs.workflow(r.PathValue("name"), version)
	if err != nil {
		s.metaError(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", b)
}

func (s *Server) deleteWorkflowDef(w http.ResponseWriter, r *http.Request, p store.Principal) {
	if !s.mayWriteMetadata(w, r, p, r.PathValue("name")) {
		return
	}
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil {
		conductorError(w, r, http.StatusBadRequest, "version must be an integer")
		return
	}
	if err := s.conductor.defs.deleteWorkflow(r.PathValue("name"), v); err != nil {
		s.metaError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

func checkTaskDef(raw []byte) error {
	var h defHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return errors.Join(errBadRequest, errors.New("task definition: "+jsonErr(err)))
	}
	if err := validDefName(h.Name); err != nil {
		return errors.Join(errBadRequest, err)
	}
	if _, err := engine.ParseTaskDefs(raw); err != nil {
		return errors.Join(errBadRequest, err)
	}
	return nil
}

func (s *Server) registerTaskDefs(w http.ResponseWriter, r *http.Request, p store.Principal) {
	body, ok := s.readJSON(w, r)
	if !ok {
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		conductorError(w, r, http.StatusBadRequest, "request body must be a JSON array of task definitions")
		return
	}
	if !s.mayWriteMetadata(w, r, p, defNames(list)...) {
		return
	}
	for _, d := range list {
		if err := checkTaskDef(d); err != nil {
			s.metaError(w, r, err)
			return
		}
	}
	for _, d := range list {
		if err := s.conductor.defs.putTask(d); err != nil {
			s.metaError(w, r, err)
			return
		}
	}
	writeEmpty(w, http.StatusOK)
}

func (s *Server) updateTaskDef(w http.ResponseWriter, r *http.Request, p store.Principal) {
	body, ok := s.readJSON(w, r)
	if !ok || !s.mayWriteMetadata(w, r, p, defName(body)) {
		return
	}
	if err := checkTaskDef(body); err != nil {
		s.metaError(w, r, err)
		return
	}
	if err := s.conductor.defs.putTask(body); err != nil {
		s.metaError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

func (s *Server) listTaskDefs(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	all, err := s.conductor.defs.tasks()
	if err != nil {
		s.metaError(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", rawList(all))
}

func (s *Server) getTaskDef(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	b, err := s.conductor.defs.task(r.PathValue("name"))
	if err != nil {
		s.metaError(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", b)
}

func (s *Server) deleteTaskDef(w http.ResponseWriter, r *http.Request, p store.Principal) {
	if !s.mayWriteMetadata(w, r, p, r.PathValue("name")) {
		return
	}
	if err := s.conductor.defs.deleteTask(r.PathValue("name")); err != nil {
		s.metaError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}
