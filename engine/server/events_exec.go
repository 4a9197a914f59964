package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/store"
)

// Event executions (Conductor's EventExecution): one record per message,
// handler and action (id "<messageId>_<index>"; a handler whose condition
// was false has one SKIPPED record, "<messageId>_0"), IN_PROGRESS when the
// action starts, COMPLETED or FAILED when it ended. They are sealed with
// the keyring, bound to their handler and id, and kept beside the queue
// (Redis, or the run store), the newest eventExecutionsKept of each
// handler. Orkes serves them (GET /api/event/execution/{handler}), a
// summary of the handlers (GET /api/event/execution, /api/event/message)
// and an event's messages with their executions (GET
// /api/event/message/{event}); wfrun serves them to a caller who may read
// the handler's workflow.

// Statuses of an event execution, as Conductor spells them.
const (
	execInProgress = "IN_PROGRESS"
	execCompleted  = "COMPLETED"
	execFailed     = "FAILED"
	execSkipped    = "SKIPPED"
)

// eventExecutionKind binds a sealed execution to what it is.
const eventExecutionKind = "conductor event execution"

// eventExecutionsKept bounds the executions kept for each handler.
const eventExecutionsKept = 500

// eventExecution is Conductor's EventExecution.
type eventExecution struct {
	ID        string         `json:"id"`
	MessageID string         `json:"messageId"`
	Name      string         `json:"name"`
	Event     string         `json:"event"`
	Created   int64          `json:"created"`
	Status    string         `json:"status"`
	Action    string         `json:"action,omitempty"`
	Output    map[string]any `json:"output"`
	// Payload is the message's payload as a view shows it (shownPayload:
	// `_secrets`/`_masked` subtrees and known values masked, cut when
	// long), sealed with the execution; it is served only as the
	// message's (GET /api/event/message/{event}), never as a member of
	// an EventExecution.
	Payload string `json:"payload,omitempty"`
	// Generation is the handler's generation when the execution was made
	// (handlerLoaded.gen), sealed with it: a handler registered again,
	// updated, or deleted and registered anew under the name shows only
	// what its own definition did.
	Generation string `json:"generation,omitempty"`
}

// eventPayloadShown bounds the payload kept with a message's executions:
// a longer one is kept masked and cut (its fullPayload is then absent).
const eventPayloadShown = 64 << 10

// shownPayload is a message's payload as its executions keep it.
func (s *Server) shownPayload(p []byte) string {
	text := s.viewedPayload(p)
	if len(text) > eventPayloadShown {
		return s.masker.ExcerptString(text, eventPayloadShown)
	}
	return text
}

// withoutPayload is x as an EventExecution shows it.
func withoutPayload(x eventExecution) eventExecution {
	x.Payload, x.Generation = "", ""
	return x
}

// executionsOf are the executions of handler l's current definition
// among list: made under its generation, of what was received on its
// event — the event mayReadHandler checks. A message a handler re-pointed
// meanwhile recorded under its old event (and generation) is not shown as
// the handler's, so one check of the handler covers every execution
// shown.
func executionsOf(l *handlerLoaded, list []eventExecution) []eventExecution {
	return slices.DeleteFunc(list, func(x eventExecution) bool {
		return l.gen == "" || x.Generation != l.gen || x.Event != l.h.Event
	})
}

// executionBinding binds a sealed execution to its handler and id.
func executionBinding(handler, id string) string { return handler + "\x00" + id }

func (s *Server) eventExecutionRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/event/execution", s.cond(s.eventExecutionSummary))
	m.HandleFunc("GET /api/event/execution/{handler}", s.cond(s.eventExecutions))
	m.HandleFunc("GET /api/event/message", s.cond(s.eventMessageSummary))
	m.HandleFunc("GET /api/event/message/{event}", s.cond(s.eventMessages))
}

// mayReadHandler: p may read what handler h received (the workflow whose
// queue its event names; every workflow for a queue that names none), and
// so each execution executionsOf shows as h's.
func (s *Server) mayReadHandler(p store.Principal, h *eventHandler) bool {
	return s.auth == nil || mayReadWorkflow(p, handlerWorkflow(h))
}

// eventExecutions is GET /api/event/execution/{handler}: the handler's
// executions, newest first (Orkes' ExtendedEventExecution list).
func (s *Server) eventExecutions(w http.ResponseWriter, r *http.Request, p store.Principal) {
	name := r.PathValue("handler")
	l, err := s.readHandler(name)
	if err != nil {
		s.eventError(w, r, &handlerError{"EventHandler with name " + name + " not found!", errNoHandler})
		return
	}
	if !s.mayReadHandler(p, l.h) {
		s.forbid(w, r, p, ScopeWorkflowRead+handlerWorkflow(l.h))
		return
	}
	list, err := s.conductor.events.executions(r.Context(), name)
	if err != nil {
		s.eventError(w, r, err)
		return
	}
	list = executionsOf(l, list)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		b, _ := json.Marshal(withoutPayload(x))
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		m["eventHandler"] = l.h
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, out)
}

func handlerWorkflow(h *eventHandler) string { return eventWorkflow(h.Event) }

// eventWorkflow is the workflow whose conductor queue event names ("*"
// when it names none).
func eventWorkflow(event string) string {
	if rest, ok := strings.CutPrefix(event, engine.ConductorQueueType+":"); ok {
		if wf := queueWorkflow(rest); wf != "" {
			return wf
		}
	}
	return "*"
}

// eventExecutionSummary is GET /api/event/execution: the active handlers
// the caller may read, with their number of actions and of messages they
// have executions for (Orkes' SearchResultHandledEventResponse).
func (s *Server) eventExecutionSummary(w http.ResponseWriter, r *http.Request, p store.Principal) {
	s.handlerSummary(w, r, p, true)
}

// eventMessageSummary is GET /api/event/message: eventExecutionSummary for
// every handler, active or not (Orkes' "event handlers with statistics").
func (s *Server) eventMessageSummary(w http.ResponseWriter, r *http.Request, p store.Principal) {
	s.handlerSummary(w, r, p, false)
}

func (s *Server) handlerSummary(w http.ResponseWriter, r *http.Request, p store.Principal, activeOnly bool) {
	all, err := s.handlers()
	if err != nil {
		s.eventError(w, r, err)
		return
	}
	results := []map[string]any{}
	for _, l := range all {
		if (activeOnly && !l.h.Active) || !s.mayReadHandler(p, l.h) {
			continue
		}
		list, err := s.conductor.events.executions(r.Context(), l.h.Name)
		if err != nil {
			s.eventError(w, r, err)
			return
		}
		msgs := map[string]bool{}
		for _, x := range executionsOf(l, list) {
			msgs[x.MessageID] = true
		}
		results = append(results, map[string]any{"name": l.h.Name, "event": l.h.Event, "active": l.h.Active,
			"numberOfActions": len(l.h.Actions), "numberOfMessages": len(msgs)})
	}
	sort.Slice(results, func(i, j int) bool { return results[i]["name"].(string) < results[j]["name"].(string) })
	writeJSON(w, http.StatusOK, map[string]any{"totalHits": len(results), "results": results})
}

// eventMessages is GET /api/event/message/{event}: the messages of the
// event that the handlers the caller may read have executions for, newest
// first, each with those executions and its payload (Orkes' EventMessage:
// payload the text, fullPayload the JSON object it holds), as a view
// shows it: `_secrets`/`_masked` subtrees and every value the server
// knows as a secret "***". The payload is kept with each execution, so a
// caller sees it only through an execution it may read.
func (s *Server) eventMessages(w http.ResponseWriter, r *http.Request, p store.Principal) {
	event := r.PathValue("event")
	all, err := s.handlers()
	if err != nil {
		s.eventError(w, r, err)
		return
	}
	byID := map[string]map[string]any{}
	for _, l := range all {
		if l.h.Event != event || !s.mayReadHandler(p, l.h) {
			continue
		}
		list, err := s.conductor.events.executions(r.Context(), l.h.Name)
		if err != nil {
			s.eventError(w, r, err)
			return
		}
		for _, x := range executionsOf(l, list) { // all on event, readable (mayReadHandler)
			m := byID[x.MessageID]
			if m == nil {
				m = map[string]any{"id": x.MessageID, "eventTarget": event, "eventType": "MESSAGE", "status": "HANDLED",
					"createdAt": x.Created, "eventExecutions": []eventExecution{}}
				byID[x.MessageID] = m
			}
			if _, ok := m["payload"]; !ok && x.Payload != "" {
				m["payload"] = x.Payload
				if full, ok := decodePayload([]byte(x.Payload)).(map[string]any); ok {
					m["fullPayload"] = full
				}
			}
			m["eventExecutions"] = append(m["eventExecutions"].([]eventExecution), withoutPayload(x))
			if x.Created < m["createdAt"].(int64) {
				m["createdAt"] = x.Created
			}
			if x.Status == execInProgress {
				m["status"] = "RECEIVED"
			}
		}
	}
	out := make([]map[string]any, 0, len(byID))
	for _, m := range byID {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i]["createdAt"].(int64), out[j]["createdAt"].(int64)
		if a != b {
			return a > b
		}
		return out[i]["id"].(string) > out[j]["id"].(string)
	})
	writeJSON(w, http.StatusOK, out)
}

// openExecutions opens sealed executions of handler; one that does not
// open (written without the keyring, moved, or edited) is left out.
func openExecutions(open func(sealed []byte, kind, binding string) ([]byte, error), handler string, sealed map[string][]byte) []eventExecution {
	out := make([]eventExecution, 0, len(sealed))
	for id, b := range sealed {
		plain, err := open(b, eventExecutionKind, executionBinding(handler, id))
		if err != nil {
			continue
		}
		var x eventExecution
		if json.Unmarshal(plain, &x) != nil || x.ID != id || x.Name != handler {
			continue
		}
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created != out[j].Created {
			return out[i].Created > out[j].Created
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// sealExecution seals x for its handler and id.
func sealExecution(seal func(plain []byte, kind, binding string) ([]byte, error), x *eventExecution) ([]byte, error) {
	plain, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return seal(plain, eventExecutionKind, executionBinding(x.Name, x.ID))
}
