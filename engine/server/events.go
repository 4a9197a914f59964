package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/tasks/eval"
)

// Event handlers (Conductor's /api/event, EventResource over
// MetadataService and its EventHandlerDAO): a handler names an event
// ("conductor:WORKFLOW:QUEUE" for the queue an EVENT task with sink
// "conductor:QUEUE" publishes to), an optional condition over the message
// and actions. They are stored with the other definitions, as
// eventhandlers/<name>.json in the definitions directory, each with its
// owner: the principal that registered (or last updated) it, sealed with
// the server's keyring and bound to the handler's name, content and
// generation. Every registration, update and deletion gives the name a new
// generation (or none), kept in eventhandlers.gen, sealed with the
// keyring too; so a handler file edited, copied, or put back after a
// DELETE or another PUT acts as nobody. (Putting back both files from one
// backup restores that state, as restoring any backup of the directory
// does.) A handler's actions run as that principal, limited by the
// message's publisher (events_authz.go).

// Action types of an event handler, as Conductor spells them.
const (
	actionStartWorkflow     = "start_workflow"
	actionCompleteTask      = "complete_task"
	actionFailTask          = "fail_task"
	actionTerminateWorkflow = "terminate_workflow"
	actionUpdateVariables   = "update_workflow_variables"
)

// errNoHandler: an unknown event handler (404).
var errNoHandler = errors.New("event handler not found")

// errHandlerExists: a handler added under a name in use (409).
var errHandlerExists = errors.New("event handler already exists")

// handlerError carries Conductor's message for a sentinel error.
type handlerError struct {
	msg  string
	kind error
}

func (e *handlerError) Error() string { return e.msg }
func (e *handlerError) Unwrap() error { return e.kind }

// eventHandler is Conductor's EventHandler.
type eventHandler struct {
	Name          string        `json:"name"`
	Event         string        `json:"event"`
	Condition     string        `json:"condition,omitempty"`
	Actions       []eventAction `json:"actions"`
	Active        bool          `json:"active"`
	EvaluatorType string        `json:"evaluatorType,omitempty"`
}

// eventAction is Conductor's EventHandler.Action.
type eventAction struct {
	Action            string             `json:"action"`
	StartWorkflow     *startWorkflowArgs `json:"start_workflow,omitempty"`
	CompleteTask      *taskDetails       `json:"complete_task,omitempty"`
	FailTask          *taskDetails       `json:"fail_task,omitempty"`
	ExpandInlineJSON  bool               `json:"expandInlineJSON"`
	TerminateWorkflow *terminateArgs     `json:"terminate_workflow,omitempty"`
	UpdateVariables   *updateVarsArgs    `json:"update_workflow_variables,omitempty"`
	StartAgent        json.RawMessage    `json:"start_agent,omitempty"`
}

// taskDetails is Conductor's EventHandler.TaskDetails.
type taskDetails struct {
	WorkflowID            string         `json:"workflowId,omitempty"`
	TaskRefName           string         `json:"taskRefName,omitempty"`
	Output                map[string]any `json:"output"`
	TaskID                string         `json:"taskId,omitempty"`
	ReasonForIncompletion string         `json:"reasonForIncompletion,omitempty"`
}

// startWorkflowArgs is Conductor's EventHandler.StartWorkflow.
type startWorkflowArgs struct {
	Name          string            `json:"name"`
	Version       *int              `json:"version,omitempty"`
	CorrelationID string            `json:"correlationId,omitempty"`
	Input         map[string]any    `json:"input"`
	TaskToDomain  map[string]string `json:"taskToDomain,omitempty"`
}

// updateVarsArgs is Conductor's EventHandler.UpdateWorkflowVariables.
type updateVarsArgs struct {
	WorkflowID  string         `json:"workflowId"`
	Variables   map[string]any `json:"variables"`
	AppendArray *bool          `json:"appendArray,omitempty"`
}

// terminateArgs is Conductor's EventHandler.TerminateWorkflow.
type terminateArgs struct {
	WorkflowID        string `json:"workflowId"`
	TerminationReason string `json:"terminationReason,omitempty"`
}

// parseEventHandler decodes a handler (numbers kept as written).
func parseEventHandler(raw []byte) (*eventHandler, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var h eventHandler
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("EventHandler: %s", jsonErr(err))
	}
	return &h, nil
}

// fieldError is a bad field of a handler: one line naming it.
type fieldError struct{ Path, Msg string }

func (e *fieldError) Error() string { return e.Path + ": " + e.Msg }

// validate checks a handler as Conductor's bean validation does (name,
// event and at least one action), and what wfrun needs to run it: each
// action's arguments, the evaluator and the condition's syntax, no secret
// reference in an action's templates (a handler never resolves one).
func (h *eventHandler) validate() error {
	switch {
	case strings.TrimSpace(h.Name) == "":
		return &fieldError{"name", "Missing event handler name"}
	case strings.TrimSpace(h.Event) == "":
		return &fieldError{"event", "Missing event location"}
	case len(h.Actions) == 0:
		return &fieldError{"actions", "No actions specified. Please specify at-least one action"}
	}
	if err := validDefName(h.Name); err != nil {
		return &fieldError{"name", strings.Replace(err.Error(), "definition name", "event handler name", 1)}
	}
	typ := h.EvaluatorType
	if typ != "" && !eval.Known(typ) {
		return &fieldError{"evaluatorType", fmt.Sprintf("unknown evaluator %q (want javascript, graaljs, value-param or expr)", typ)}
	}
	if strings.TrimSpace(h.Condition) != "" {
		if typ == "" {
			typ = eval.TypeJavaScript
		}
		if _, err := eval.Compile(typ, h.Condition); err != nil {
			return &fieldError{"condition", oneLine(err.Error())}
		}
	}
	for i, a := range h.Actions {
		if err := a.validate(fmt.Sprintf("actions[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (a *eventAction) validate(at string) error {
	switch a.Action {
	case actionStartWorkflow:
		if a.StartWorkflow == nil {
			return &fieldError{at + ".start_workflow", "missing: action start_workflow needs it"}
		}
		if strings.TrimSpace(a.StartWorkflow.Name) == "" {
			return &fieldError{at + ".start_workflow.name", "missing: the workflow to start"}
		}
		if err := noSecretRefs(at+".start_workflow.input", a.StartWorkflow.Input); err != nil {
			return err
		}
		return noSecretRefs(at+".start_workflow.correlationId", a.StartWorkflow.CorrelationID)
	case actionCompleteTask, actionFailTask:
		d := a.CompleteTask
		if a.Action == actionFailTask {
			d = a.FailTask
		}
		if d == nil {
			return &fieldError{at + "." + a.Action, "missing: action " + a.Action + " needs it"}
		}
		if d.TaskID == "" && (d.WorkflowID == "" || d.TaskRefName == "") {
			return &fieldError{at + "." + a.Action, "give taskId, or workflowId and taskRefName"}
		}
		return noSecretRefs(at+"."+a.Action, map[string]any{"workflowId": d.WorkflowID, "taskId": d.TaskID,
			"taskRefName": d.TaskRefName, "reasonForIncompletion": d.ReasonForIncompletion, "output": d.Output})
	case actionTerminateWorkflow:
		if a.TerminateWorkflow == nil || a.TerminateWorkflow.WorkflowID == "" {
			return &fieldError{at + ".terminate_workflow.workflowId", "missing: the workflow to terminate"}
		}
		return noSecretRefs(at+".terminate_workflow", map[string]any{"workflowId": a.TerminateWorkflow.WorkflowID,
			"terminationReason": a.TerminateWorkflow.TerminationReason})
	case actionUpdateVariables:
		u := a.UpdateVariables
		if u == nil || u.WorkflowID == "" {
			return &fieldError{at + ".update_workflow_variables.workflowId", "missing: the workflow whose variables to update"}
		}
		if u.Variables == nil {
			return &fieldError{at + ".update_workflow_variables.variables", "missing: the variables to set"}
		}
		return noSecretRefs(at+".update_workflow_variables", map[string]any{"workflowId": u.WorkflowID, "variables": u.Variables})
	case "start_agent":
		// Conductor OSS's SimpleActionProcessor runs start_agent (an
		// agent execution, which wfrun has not): refused here, where it
		// is seen.
		return &fieldError{at + ".action", "start_agent is not supported by wfrun serve (wfrun has no agent executions)"}
	case "":
		return &fieldError{at + ".action", "missing (want start_workflow, complete_task, fail_task, terminate_workflow or update_workflow_variables)"}
	}
	return &fieldError{at + ".action", fmt.Sprintf("unknown action %q (want start_workflow, complete_task, fail_task, terminate_workflow or update_workflow_variables)", a.Action)}
}

// noSecretRefs refuses a `${workflow.secrets.…}` reference in an action's
// templates: a handler resolves them against the message, never a secret
// store, so it would only pass the reference on as text.
func noSecretRefs(at string, v any) error {
	b, _ := json.Marshal(v)
	if bytes.Contains(b, []byte("workflow.secrets")) {
		return &fieldError{at, "a secret reference (${workflow.secrets.…}) cannot be resolved by an event handler: resolve it in the started workflow's definition"}
	}
	return nil
}

// oneLine keeps the first line of a message.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// storedHandler is a handler file: the handler and its sealed owner.
type storedHandler struct {
	Handler json.RawMessage `json:"handler"`
	Owner   []byte          `json:"owner"`
}

// handlerOwner is what the sealed owner holds.
type handlerOwner struct {
	Principal  store.Principal `json:"principal"`
	Digest     []byte          `json:"digest"`     // sha256 of the handler JSON
	Generation string          `json:"generation"` // the name's, when it was written
}

const (
	handlerOwnerKind       = "event handler owner"
	handlerGenerationsKind = "event handler generations"
)

// handlerGenerations is the generation of every handler name (sealed in
// eventhandlers.gen); a name without one has no valid handler.
type handlerGenerations map[string]string

func (d *defStore) generationsPath() string {
	return filepath.Join(d.dir, "eventhandlers.gen")
}

// generations reads the handlers' generations; none when the file is
// missing, or does not open (edited, or sealed with another keyring).
func (s *Server) generations() handlerGenerations {
	b, err := os.ReadFile(s.conductor.defs.generationsPath())
	if err != nil {
		return handlerGenerations{}
	}
	plain, err := s.conductor.eng.Transit().Open(b, handlerGenerationsKind, "")
	gens := handlerGenerations{}
	if err != nil || json.Unmarshal(plain, &gens) != nil {
		return handlerGenerations{}
	}
	return gens
}

// setGeneration gives name a new generation ("" removes it) and stores
// them all; the caller holds the definitions' lock.
func (s *Server) setGeneration(name string, fresh bool) (string, error) {
	gens := s.generations()
	gen := ""
	if fresh {
		gen = newRunID()
		gens[name] = gen
	} else {
		delete(gens, name)
	}
	plain, err := json.Marshal(gens)
	if err != nil {
		return "", err
	}
	sealed, err := s.conductor.eng.Transit().Seal(plain, handlerGenerationsKind, "")
	if err != nil {
		return "", err
	}
	return gen, writeFileAtomic(s.conductor.defs.generationsPath(), sealed)
}

func (d *defStore) handlerPath(name string) string {
	return filepath.Join(d.dir, "eventhandlers", name+".json")
}

// handlerLoaded is a handler read back; owner is nil when its seal does
// not open (not written by a process holding the keyring, or edited).
type handlerLoaded struct {
	h     *eventHandler
	owner *store.Principal
	// gen is the generation the handler was written under (with its
	// owner): its executions carry it, and those of another generation
	// (an earlier definition of the name) are not shown as its.
	gen string
}

// readHandler reads the handler file of name (errNoHandler when there is
// none holding that exact name).
func (s *Server) readHandler(name string) (*handlerLoaded, error) {
	return s.readHandlerOf(name, s.generations())
}

// readHandlerOf is readHandler with the generations read.
func (s *Server) readHandlerOf(name string, gens handlerGenerations) (*handlerLoaded, error) {
	if validDefName(name) != nil {
		return nil, fmt.Errorf("%w: %s", errNoHandler, name)
	}
	b, err := os.ReadFile(s.conductor.defs.handlerPath(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errNoHandler, name)
	}
	var st storedHandler
	if json.Unmarshal(b, &st) != nil {
		return nil, fmt.Errorf("%w: %s (damaged file)", errNoHandler, name)
	}
	h, err := parseEventHandler(st.Handler)
	if err != nil || h.Name != name {
		return nil, fmt.Errorf("%w: %s", errNoHandler, name)
	}
	out := &handlerLoaded{h: h}
	if plain, err := s.conductor.eng.Transit().Open(st.Owner, handlerOwnerKind, name); err == nil {
		var o handlerOwner
		sum := sha256.Sum256(st.Handler)
		gen, ok := gens[name]
		if json.Unmarshal(plain, &o) == nil && bytes.Equal(o.Digest, sum[:]) && ok && gen != "" && o.Generation == gen {
			out.owner, out.gen = &o.Principal, o.Generation
		}
	}
	return out, nil
}

// writeHandler stores h owned by p.
func (s *Server) writeHandler(h *eventHandler, p store.Principal) error {
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	gen, err := s.setGeneration(h.Name, true)
	if err != nil {
		return err
	}
	plain, _ := json.Marshal(handlerOwner{Principal: p, Digest: sum[:], Generation: gen})
	sealed, err := s.conductor.eng.Transit().Seal(plain, handlerOwnerKind, h.Name)
	if err != nil {
		return err
	}
	b, err := json.Marshal(storedHandler{Handler: raw, Owner: sealed})
	if err != nil {
		return err
	}
	return writeFileAtomic(s.conductor.defs.handlerPath(h.Name), b)
}

// handlers reads every handler, by name.
func (s *Server) handlers() ([]*handlerLoaded, error) {
	files, err := filepath.Glob(filepath.Join(s.conductor.defs.dir, "eventhandlers", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	gens := s.generations()
	var out []*handlerLoaded
	for _, f := range files {
		if l, err := s.readHandlerOf(strings.TrimSuffix(filepath.Base(f), ".json"), gens); err == nil {
			out = append(out, l)
		}
	}
	return out, nil
}

func (s *Server) eventRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /api/event", s.cond(s.putEventHandler(false)))
	m.HandleFunc("PUT /api/event", s.cond(s.putEventHandler(true)))
	m.HandleFunc("GET /api/event", s.cond(s.listEventHandlers))
	m.HandleFunc("GET /api/event/{event}", s.cond(s.eventHandlersFor))
	m.HandleFunc("GET /api/event/handler/{name}", s.cond(s.eventHandlerByName))
	m.HandleFunc("DELETE /api/event/{name}", s.cond(s.removeEventHandler))
	s.eventExecutionRoutes(m)
}

// eventError answers a handler error in Conductor's shapes.
func (s *Server) eventError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		// The handler's own text, which a message may quote (maskAnswer).
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"status": http.StatusBadRequest, "message": maskAnswer(r, fe.Error()), "instance": hostname, "retryable": false,
			"validationErrors": []map[string]any{{"path": maskAnswer(r, fe.Path), "message": maskAnswer(r, fe.Msg)}},
		})
	case errors.Is(err, errNoHandler):
		conductorError(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, errHandlerExists):
		conductorError(w, r, http.StatusConflict, err.Error())
	default:
		s.log.Error("event handlers", "path", r.URL.Path, "error", s.masker.MaskString(err.Error()))
		conductorError(w, r, http.StatusInternalServerError, s.masker.MaskString(err.Error()))
	}
}

// putEventHandler is POST /api/event (add: 409 when the name is taken) and
// PUT /api/event (update: 404 when it is not). The caller becomes the
// handler's owner: its actions run as the caller. POST also takes a list
// of handlers, as Orkes does (its JavaScript SDK's addEventHandler sends
// one): every one is checked before any is stored.
func (s *Server) putEventHandler(update bool) conductorHandler {
	return func(w http.ResponseWriter, r *http.Request, p store.Principal) {
		body, ok := s.readJSON(w, r)
		if !ok {
			return
		}
		raws := []json.RawMessage{body}
		if t := bytes.TrimSpace(body); !update && len(t) > 0 && t[0] == '[' {
			if err := json.Unmarshal(t, &raws); err != nil || len(raws) == 0 {
				conductorError(w, r, http.StatusBadRequest, "EventHandler list: want a non-empty JSON array of event handlers")
				return
			}
		}
		var list []*eventHandler
		seen := map[string]bool{}
		for i, raw := range raws {
			h, err := parseEventHandler(raw)
			if err != nil {
				if len(raws) > 1 {
					err = fmt.Errorf("[%d]: %w", i, err)
				}
				conductorError(w, r, http.StatusBadRequest, err.Error())
				return
			}
			if !s.mayWriteMetadata(w, r, p, h.Name) || !s.mayListen(w, r, p, h.Event) {
				return
			}
			if err := h.validate(); err != nil {
				s.eventError(w, r, err)
				return
			}
			if seen[h.Name] {
				s.eventError(w, r, &handlerError{fmt.Sprintf("EventHandler with name %s given twice", h.Name), errHandlerExists})
				return
			}
			seen[h.Name] = true
			list = append(list, h)
		}
		d := s.conductor.defs
		d.mu.Lock()
		defer d.mu.Unlock()
		moved := map[string]bool{}
		for _, h := range list {
			old, err := s.readHandler(h.Name)
			switch {
			case err == nil && !update:
				s.eventError(w, r, &handlerError{fmt.Sprintf("EventHandler with name %s already exists!", h.Name), errHandlerExists})
				return
			case err != nil && update:
				s.eventError(w, r, &handlerError{fmt.Sprintf("EventHandler with name %s not found!", h.Name), errNoHandler})
				return
			case err == nil && old.h.Event != h.Event:
				moved[h.Name] = true
			}
		}
		for _, h := range list {
			if moved[h.Name] {
				// What it received on its old event is not the new
				// event's readers' to see.
				if err := s.conductor.events.dropExecutions(r.Context(), h.Name); err != nil {
					s.eventError(w, r, err)
					return
				}
			}
			if err := s.writeHandler(h, p); err != nil {
				s.eventError(w, r, err)
				return
			}
			s.log.Info("event handler stored", "name", h.Name, "event", h.Event, "active", h.Active, "principal", p.Name)
			if rest, ok := strings.CutPrefix(h.Event, "conductor:"); ok && !strings.Contains(rest, ":") {
				// Conductor accepts it too; no EVENT task publishes there.
				s.log.Warn("event handler on a queue no EVENT task publishes to: an EVENT task's sink conductor:"+rest+
					" in workflow W publishes to conductor:W:"+rest, "name", h.Name, "event", h.Event)
			}
		}
		writeEmpty(w, http.StatusOK)
	}
}

// eventHandlerByName is Orkes' GET /api/event/handler/{name}: the handler
// (404 when there is none).
func (s *Server) eventHandlerByName(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	name := r.PathValue("name")
	l, err := s.readHandler(name)
	if err != nil {
		s.eventError(w, r, &handlerError{fmt.Sprintf("EventHandler with name %s not found!", name), errNoHandler})
		return
	}
	writeJSON(w, http.StatusOK, l.h)
}

func (s *Server) listEventHandlers(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	s.answerHandlers(w, r, func(*eventHandler) bool { return true })
}

// eventHandlersFor is GET /api/event/{event}?activeOnly=true: the
// handlers of exactly that event (only active ones unless
// activeOnly=false).
func (s *Server) eventHandlersFor(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	event := r.PathValue("event")
	activeOnly := r.URL.Query().Get("activeOnly") != "false"
	s.answerHandlers(w, r, func(h *eventHandler) bool { return h.Event == event && (h.Active || !activeOnly) })
}

func (s *Server) answerHandlers(w http.ResponseWriter, r *http.Request, keep func(*eventHandler) bool) {
	all, err := s.handlers()
	if err != nil {
		s.eventError(w, r, err)
		return
	}
	out := []*eventHandler{}
	for _, l := range all {
		if keep(l.h) {
			out = append(out, l.h)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// removeEventHandler is DELETE /api/event/{name}.
func (s *Server) removeEventHandler(w http.ResponseWriter, r *http.Request, p store.Principal) {
	name := r.PathValue("name")
	if !s.mayWriteMetadata(w, r, p, name) {
		return
	}
	d := s.conductor.defs
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := s.readHandler(name); err != nil {
		s.eventError(w, r, &handlerError{fmt.Sprintf("EventHandler with name %s not found!", name), errNoHandler})
		return
	}
	// The generation first: a copy of the file acts as nobody even when
	// the removal fails.
	if _, err := s.setGeneration(name, false); err != nil {
		s.eventError(w, r, err)
		return
	}
	if err := os.Remove(d.handlerPath(name)); err != nil {
		s.eventError(w, r, err)
		return
	}
	if err := s.conductor.events.dropExecutions(r.Context(), name); err != nil {
		s.eventError(w, r, err)
		return
	}
	s.log.Info("event handler removed", "name", name, "principal", p.Name)
	writeEmpty(w, http.StatusOK)
}
