package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/tasks/eval"
)

// The event processor (Conductor's DefaultEventProcessor and
// SimpleActionProcessor) takes the messages of the conductor queues that
// active handlers listen to ("conductor:X" handlers take the queue X; a
// queue nobody listens to keeps its messages, as Conductor's does), and
// for each message and handler of its event: evaluates the handler's
// condition over the payload (its evaluatorType, JavaScript when none;
// true when there is no condition; a number is true when > 0), then runs
// its actions in order. Each action goes through the same code as the
// REST call it stands for (POST /api/workflow, POST
// /api/tasks/{workflowId}/{ref}/{status}, DELETE /api/workflow/{id}), as
// the handler's owner — the principal that registered it — limited to the
// scopes the message's publisher holds too (events_authz.go), so the
// scopes, the run's masking and the audit are at most what either
// principal's own request would get. A handler whose owner is not
// authentic (its file was edited, or written without the keyring) or no
// longer configured runs nothing; nor does one whose owner may not read
// the message. Every execution is logged (handler, action, message id,
// outcome), masked; an action that fails does not stop the others.
//
// Messages are handled eventWorkers at a time. Each action is recorded as
// started in its queue's ledger before it runs and its execution kept
// (events_ledger.go, events_exec.go); the message is acknowledged once
// every action ran, as Conductor's DefaultEventProcessor acks it: one
// whose process died, or one with an action that failed for a transient
// reason, is delivered again (after eventReclaimIdle) and runs only the
// actions not started before. A condition gets eventConditionTimeout, and
// a handler whose condition runs out of time on eventConditionStrikes
// messages in a row is disabled. A condition that fails, or an action
// whose call fails for a transient reason (5xx), is tried again,
// eventAttempts tries in all, before the message is left to a later
// delivery (the action; a condition that keeps failing runs nothing).

const (
	eventWorkers   = 8                      // messages handled at once
	eventPollWait  = 500 * time.Millisecond // longest wait for one
	eventRetryWait = time.Second            // after a queue error

	// eventConditionTimeout bounds one condition evaluation (the
	// evaluator's own limit is 5 s): messages are handled eventWorkers at
	// a time, and a handler's condition must not hold one of them long.
	eventConditionTimeout = 500 * time.Millisecond
	// eventConditionStrikes: a handler whose condition runs out of time
	// this many times in a row is disabled (until it is registered again
	// with another condition, or serve restarts), with a log line.
	eventConditionStrikes = 3
	// eventAttempts bounds the tries of a condition that fails and of an
	// action that fails for a transient reason (the run store answered
	// 5xx), as Conductor does not ack such a message and takes it again;
	// eventRetryBackoff is the wait before the second try, doubled after.
	eventAttempts     = 3
	eventRetryBackoff = 100 * time.Millisecond
)

// newEventQueue is the server's conductor queue: in Redis when serve
// processes share it, else in this process. The Redis one gets its
// keyring in startEvents, before any run starts.
func (s *Server) newEventQueue() eventQueue {
	if s.shared != nil {
		return newEventStreamQueue(s.shared, nil)
	}
	return newEventRecordQueue()
}

// startEvents starts the event processor.
func (s *Server) startEvents(ctx context.Context, q eventQueue) {
	c := s.conductor
	switch eq := q.(type) {
	case *eventStreamQueue:
		eq.transit = c.eng.Transit()
	case *eventRecordQueue:
		eq.transit = c.eng.Transit()
		// Beside the runs (bolt: they outlive a restart), else in this
		// process.
		if eq.recs = c.eng.EventRecords(); eq.recs == nil {
			eq.recs = runstore.NewMemory()
		}
	}
	if c.eng.EventSinkOf(engine.ConductorQueueType) != engine.EventSink(q) {
		s.log.Info("EVENT tasks publish conductor queues to the configured --event-sink: event handlers on conductor events get no message from them")
	}
	em := &eventMetrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wfrun_event_messages_handled_total", Help: "Messages of Conductor's event queues taken by the event handlers, by queue.",
		}, []string{"queue"}),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wfrun_event_executions_total", Help: "Event handler executions by action and status (COMPLETED, FAILED; SKIPPED: the condition was false).",
		}, []string{"action", "status"}),
	}
	s.registry.MustRegister(em.handled, em.executions)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		s.processEvents(ctx, q, em)
	}()
}

// eventMetrics count the event processor's work.
type eventMetrics struct {
	handled    *prometheus.CounterVec
	executions *prometheus.CounterVec
}

func (s *Server) processEvents(ctx context.Context, q eventQueue, em *eventMetrics) {
	warned := map[string]bool{}
	failing := false // a queue error was logged; logged again once it clears
	guard := &conditionGuard{strikes: map[string]int{}}
	// Messages are handled eventWorkers at a time, each in its own
	// goroutine: one handler's slow condition or action does not hold the
	// others' messages.
	slots := make(chan struct{}, eventWorkers)
	var wg sync.WaitGroup
	defer wg.Wait()
	lastExpire := time.Now()
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := eventWorkers - len(slots) + 1 // this one and the idle ones
		byQueue := s.listeningHandlers(warned)
		if now := time.Now(); now.Sub(lastExpire) >= eventExpireEvery {
			lastExpire = now
			s.expireUnheard(ctx, q, byQueue, now)
		}
		queues := make([]string, 0, len(byQueue))
		for name := range byQueue {
			queues = append(queues, name)
		}
		sort.Strings(queues)
		msgs, err := q.take(ctx, queues, free, eventPollWait)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return
			}
			if !failing {
				s.log.Warn("event queue: taking messages (retrying every second, logged once)", "error", s.masker.MaskString(err.Error()))
			}
			failing = true
			select {
			case <-ctx.Done():
				return
			case <-time.After(eventRetryWait):
			}
			continue
		}
		if failing {
			failing = false
			s.log.Info("event queue: taking messages again")
		}
		if len(msgs) == 0 {
			<-slots
			continue
		}
		// The handlers as they are now that the messages are here, not as
		// they were when take began to wait: a handler replaced, deleted
		// or deactivated meanwhile (answered before the message was
		// published) must not act on it.
		byQueue = s.listeningHandlers(warned)
		for i, m := range msgs {
			if i > 0 {
				// Free unless the queue gave more than asked (a Redis
				// read gives up to n per stream): then it waits for one.
				slots <- struct{}{}
			}
			wg.Add(1)
			go func(m eventMessage, handlers []*handlerLoaded) {
				defer wg.Done()
				defer func() { <-slots }()
				if len(handlers) == 0 {
					// No handler listens to its queue any more: it waits
					// as a message nobody listens to (events_expire.go).
					q.release(ctx, m)
					return
				}
				// A message handled already (a copy added again, or
				// one another process finished) runs nothing.
				if err := q.begin(ctx, m); err != nil {
					if !errors.Is(err, errEventReplay) {
						s.log.Warn("event queue: reading a message's ledger", "queue", m.Queue, "messageId", m.ID, "error", s.masker.MaskString(err.Error()))
						q.release(ctx, m)
						return
					}
					s.notHandled(ctx, q, m, err)
					return
				}
				again, err := s.handleMessage(ctx, q, handlers, m, em, guard)
				switch {
				case errors.Is(err, errEventReplay):
					s.notHandled(ctx, q, m, err)
					return
				case again || err != nil:
					// Delivered again later: the actions not started (or
					// that failed for a transient reason) run then.
					if err != nil && ctx.Err() == nil {
						s.log.Warn("event queue: recording an action", "queue", m.Queue, "messageId", m.ID, "error", s.masker.MaskString(err.Error()))
					}
					q.release(ctx, m)
					return
				}
				em.handled.WithLabelValues(m.Queue).Inc()
				// Recorded even at shutdown: every action ran.
				if err := q.finish(context.WithoutCancel(ctx), m); err != nil && !errors.Is(err, errEventReplay) {
					s.log.Warn("event queue: acknowledging", "queue", m.Queue, "messageId", m.ID, "error", s.masker.MaskString(err.Error()))
				}
			}(m, byQueue[m.Queue])
		}
	}
}

// conditionGuard counts, by handler and condition, the evaluations in a
// row that ran out of time; past eventConditionStrikes the handler is
// disabled.
type conditionGuard struct {
	mu      sync.Mutex
	strikes map[string]int
}

func conditionKey(h *eventHandler) string {
	return h.Name + "\x00" + h.EvaluatorType + "\x00" + h.Condition
}

func (g *conditionGuard) disabled(h *eventHandler) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.strikes[conditionKey(h)] >= eventConditionStrikes
}

// note records an evaluation's outcome and says whether it disabled the
// handler just now.
func (g *conditionGuard) note(h *eventHandler, timedOut bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := conditionKey(h)
	if !timedOut {
		if g.strikes[k] < eventConditionStrikes {
			delete(g.strikes, k)
		}
		return false
	}
	g.strikes[k]++
	return g.strikes[k] == eventConditionStrikes
}

// listeningHandlers are the active handlers of conductor events, by queue.
// warned keeps the names of handlers already reported as unusable.
func (s *Server) listeningHandlers(warned map[string]bool) map[string][]*handlerLoaded {
	all, err := s.handlers()
	if err != nil {
		s.log.Warn("event handlers: reading", "error", s.masker.MaskString(err.Error()))
		return nil
	}
	out := map[string][]*handlerLoaded{}
	for _, l := range all {
		name, ok := strings.CutPrefix(l.h.Event, engine.ConductorQueueType+":")
		if !l.h.Active || !ok || name == "" {
			continue
		}
		if l.owner == nil {
			if !warned[l.h.Name] {
				warned[l.h.Name] = true
				s.log.Warn("event handler ignored: its stored owner does not open with this keyring or does not match the handler (register it again)", "name", l.h.Name)
			}
			continue
		}
		out[name] = append(out[name], l)
	}
	return out
}

// handleMessage runs the handlers of a message's event, each action once
// (recorded in the queue's ledger before it runs: a delivery of the
// message again skips the actions started before). again reports an
// action that failed for a transient reason, or actions left at shutdown:
// the message is delivered again for them. An error (errEventReplay: the
// message was finished meanwhile, by another process) stops it.
func (s *Server) handleMessage(ctx context.Context, q eventQueue, handlers []*handlerLoaded, m eventMessage, em *eventMetrics, guard *conditionGuard) (again bool, err error) {
	event := engine.ConductorQueueType + ":" + m.Queue
	payload := decodePayload(m.Payload)
	shown := s.shownPayload(m.Payload)
	pub, pubErr := s.publisherPrincipal(m.Publisher)
	for _, l := range handlers {
		h := l.h
		// Who may read the message, and whose rights the actions have
		// (events_authz.go), before the condition reads it.
		p, err := s.handlerPrincipal(*l.owner)
		if err == nil {
			err = pubErr
		}
		if err == nil {
			if why := s.mayReceive(p, m.Queue, m.Publisher); why != "" {
				err = errors.New(why)
			}
		}
		if err != nil {
			s.log.Warn("event handler not run", "handler", h.Name, "event", event, "messageId", m.ID, "error", s.masker.MaskString(err.Error()))
			continue
		}
		act := actingPrincipal(p, pub)
		if s.auth == nil {
			act = p
		}
		// An action that started runs to its end at shutdown (its outcome
		// is recorded); the ones after it wait for the next delivery.
		actx := withActingPublisher(context.WithoutCancel(ctx), pub)
		if cond := strings.TrimSpace(h.Condition); cond != "" {
			if guard.disabled(h) {
				s.log.Info("event handler skipped: disabled, its condition ran out of time", "handler", h.Name, "event", event, "messageId", m.ID)
				continue
			}
			ok, err := s.condition(ctx, h, payload, guard)
			if err != nil {
				s.log.Warn("event handler condition failed", "handler", h.Name, "event", event, "messageId", m.ID,
					"error", oneLine(s.masker.MaskString(err.Error())))
				continue
			}
			if !ok {
				s.log.Info("event handler skipped", "handler", h.Name, "event", event, "messageId", m.ID, "status", "SKIPPED")
				em.executions.WithLabelValues("", "SKIPPED").Inc()
				x := &eventExecution{ID: m.ID + "_0", MessageID: m.ID, Name: h.Name, Event: h.Event, Created: time.Now().UnixMilli(),
					Status: execSkipped, Output: s.maskedOutput(map[string]any{"msg": s.viewedPayload(m.Payload), "condition": h.Condition}), Payload: shown, Generation: l.gen}
				if err := q.record(ctx, x); err != nil {
					s.log.Warn("event queue: recording an execution", "handler", h.Name, "messageId", m.ID, "error", s.masker.MaskString(err.Error()))
				}
				continue
			}
		}
		for i, a := range h.Actions {
			if ctx.Err() != nil {
				return true, nil
			}
			x := &eventExecution{ID: fmt.Sprintf("%s_%d", m.ID, i), MessageID: m.ID, Name: h.Name, Event: h.Event,
				Created: time.Now().UnixMilli(), Status: execInProgress, Action: a.Action, Output: map[string]any{}, Payload: shown, Generation: l.gen}
			key := actionKey(h.Name, i)
			started, err := q.startAction(ctx, m, key, x)
			if err != nil {
				return again, err
			}
			attrs := []any{"handler", h.Name, "action", a.Action, "index", i, "event", event, "messageId", m.ID, "principal", p.Name, "publisher", pub.Name}
			if !started {
				// Conductor's "Duplicate delivery/execution of message".
				s.log.Info("event handler action not run again: an earlier delivery of the message started it", attrs...)
				continue
			}
			out, err := s.runActionRetried(actx, act, a, payload, event, m.ID)
			if errors.Is(err, errTransient) {
				x.Output = s.maskedOutput(map[string]any{"exception": oneLine(err.Error()) + fmt.Sprintf(
					" (given up: the message's actions failed for a transient reason %d times)", eventTransientMax)})
				if err := q.endAction(context.WithoutCancel(ctx), m, key, x, true); err != nil {
					return true, err
				}
				if x.Status == execFailed {
					s.log.Warn("event handler action", append(attrs, "status", execFailed, "error", oneLine(s.masker.MaskString(err.Error())),
						"retry", fmt.Sprintf("given up: the message's actions failed for a transient reason %d times", eventTransientMax))...)
					em.executions.WithLabelValues(a.Action, execFailed).Inc()
					continue
				}
				again = true
				s.log.Info("event handler action", append(attrs, "status", execInProgress, "error", oneLine(s.masker.MaskString(err.Error())),
					"retry", "the message is delivered again")...)
				continue
			}
			x.Status = execCompleted
			if err != nil {
				x.Status = execFailed
				attrs = append(attrs, "error", oneLine(s.masker.MaskString(err.Error())))
			}
			if msg, _ := out["error"].(string); msg != "" {
				attrs = append(attrs, "error", s.masker.MaskString(msg))
			}
			if id, _ := out["workflowId"].(string); id != "" && a.Action == actionStartWorkflow {
				attrs = append(attrs, "workflowId", id)
			}
			output := map[string]any{}
			for k, v := range out {
				output[k] = v
			}
			if err != nil {
				output["exception"] = oneLine(err.Error())
			}
			x.Output = s.maskedOutput(output)
			if err := q.endAction(context.WithoutCancel(ctx), m, key, x, false); err != nil {
				s.log.Warn("event queue: recording an execution", "handler", h.Name, "messageId", m.ID, "error", s.masker.MaskString(err.Error()))
			}
			// Logged once recorded: a reader who sees the line reads the
			// execution with that status.
			s.log.Info("event handler action", append(attrs, "status", x.Status)...)
			em.executions.WithLabelValues(a.Action, x.Status).Inc()
		}
	}
	return again, nil
}

// maskedOutput is v as a view shows a run: `_secrets` and `_masked`
// subtrees as "***" (runsecrets.ViewStored), then every value the
// server's masker knows masked.
func (s *Server) maskedOutput(v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err == nil {
		b, err = runsecrets.ViewStored(b, nil)
	}
	if err != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	if json.Unmarshal([]byte(s.masker.MaskString(string(b))), &out) != nil {
		return map[string]any{}
	}
	return out
}

// viewedPayload is a message's payload as maskedOutput shows a value.
func (s *Server) viewedPayload(p []byte) string {
	if v, err := runsecrets.ViewStored(p, nil); err == nil {
		p = v
	}
	return s.masker.MaskString(string(p))
}

// notHandled logs a message that runs nothing (handled already, withdrawn,
// or not of its queue's ledger) and removes it.
func (s *Server) notHandled(ctx context.Context, q eventQueue, m eventMessage, why error) {
	s.log.Warn("event message not handled: handled already, withdrawn, or not of its queue's ledger (added again?)",
		"queue", m.Queue, "messageId", m.ID, "reason", why.Error())
	if err := q.finish(ctx, m); err != nil && !errors.Is(err, errEventReplay) {
		s.log.Warn("event queue: acknowledging", "queue", m.Queue, "messageId", m.ID, "error", s.masker.MaskString(err.Error()))
	}
}

// condition evaluates a handler's condition within eventConditionTimeout;
// one that fails otherwise is tried again (eventAttempts in all), as
// Conductor takes again a message whose condition threw.
func (s *Server) condition(ctx context.Context, h *eventHandler, payload any, guard *conditionGuard) (bool, error) {
	wait := eventRetryBackoff
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, eventConditionTimeout)
		ok, err := evalCondition(cctx, h, payload)
		timedOut := err != nil && cctx.Err() != nil && ctx.Err() == nil
		cancel()
		if guard.note(h, timedOut) {
			s.log.Warn("event handler disabled: its condition ran out of time (the limit is "+eventConditionTimeout.String()+") on "+
				fmt.Sprint(eventConditionStrikes)+" messages in a row; register it again with another condition, or restart serve",
				"handler", h.Name, "event", h.Event)
		}
		if err == nil || timedOut || ctx.Err() != nil || errors.Is(err, eval.ErrCompile) || attempt == eventAttempts {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// errTransient: an action's call failed for a reason that may pass (the
// run store answered 5xx): it is tried again.
var errTransient = errors.New("transient failure")

// runActionRetried is runAction, tried again (eventAttempts in all) while
// it fails for a transient reason.
func (s *Server) runActionRetried(ctx context.Context, p store.Principal, a eventAction, payload any, event, messageID string) (map[string]any, error) {
	wait := eventRetryBackoff
	for attempt := 1; ; attempt++ {
		out, err := s.runAction(ctx, p, a, payload, event, messageID)
		if err == nil || !errors.Is(err, errTransient) || attempt == eventAttempts || ctx.Err() != nil {
			return out, err
		}
		s.log.Info("event handler action failed, trying again", "action", a.Action, "event", event, "messageId", messageID, "attempt", attempt,
			"error", oneLine(s.masker.MaskString(err.Error())))
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// callFailure is the error of an internal call that answered status:
// transient (tried again) for a 5xx its ErrorResponse marks retryable.
func callFailure(status int, body []byte) error {
	if status >= http.StatusInternalServerError && answerRetryable(body) {
		return fmt.Errorf("%w: %s", errTransient, callError(status, body))
	}
	return errors.New(callError(status, body))
}

// evalCondition evaluates a handler's condition over the (expanded)
// payload; the result is true as Conductor's ScriptEvaluator.toBoolean
// says: a boolean as it is, a number when > 0, anything else false.
func evalCondition(ctx context.Context, h *eventHandler, payload any) (bool, error) {
	typ := h.EvaluatorType
	if typ == "" {
		typ = eval.TypeJavaScript
	}
	prog, err := eval.Compile(typ, h.Condition)
	if err != nil {
		return false, err
	}
	v, err := prog.Eval(ctx, expandJSON(payload))
	if err != nil {
		return false, err
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case int:
		return x > 0, nil
	case int64:
		return x > 0, nil
	case float64:
		return x > 0, nil
	case json.Number:
		f, err := x.Float64()
		return err == nil && f > 0, nil
	}
	return false, nil
}

// errOwnerGone: a handler's owner is no longer a configured principal.
var errOwnerGone = errors.New("the principal that registered the handler is no longer configured")

// handlerPrincipal is the principal a handler's actions run as: its
// owner, with the scopes it had when it registered the handler that its
// current configuration still grants (a scope taken away since is not
// used). Without auth every request is the local principal.
func (s *Server) handlerPrincipal(owner store.Principal) (store.Principal, error) {
	if s.auth == nil {
		return store.LocalPrincipal, nil
	}
	var current []store.Principal
	if owner.Name == "anonymous" {
		current = append(current, s.auth.anonymous())
	}
	for _, a := range s.auth.Applications {
		if p := a.principal(); p.Name == owner.Name {
			current = append(current, p)
		}
	}
	for _, c := range s.auth.TaskclusterKeys {
		if p := c.principal(); p.Name == owner.Name {
			current = append(current, p)
		}
	}
	if len(current) == 0 {
		return store.Principal{}, fmt.Errorf("%w: %s", errOwnerGone, owner.Name)
	}
	out := store.Principal{Name: owner.Name}
	for _, sc := range owner.Scopes {
		for _, c := range current {
			if c.Satisfies(sc) {
				out.Scopes = append(out.Scopes, sc)
				break
			}
		}
	}
	return out, nil
}

// runAction runs one action for a message (SimpleActionProcessor).
func (s *Server) runAction(ctx context.Context, p store.Principal, a eventAction, payload any, event, messageID string) (map[string]any, error) {
	doc := payload
	if a.ExpandInlineJSON {
		doc = expandJSON(payload)
	}
	switch a.Action {
	case actionStartWorkflow:
		return s.actionStart(ctx, p, a.StartWorkflow, doc, event, messageID)
	case actionCompleteTask:
		return s.actionComplete(ctx, p, a.CompleteTask, engine.TaskCompleted, doc, event, messageID)
	case actionFailTask:
		return s.actionComplete(ctx, p, a.FailTask, engine.TaskFailed, doc, event, messageID)
	case actionTerminateWorkflow:
		return s.actionTerminate(ctx, p, a.TerminateWorkflow, doc)
	case actionUpdateVariables:
		return s.actionUpdateVariables(ctx, p, a.UpdateVariables, doc)
	}
	return nil, fmt.Errorf("Action not supported %s for event %s", a.Action, event)
}

func (s *Server) actionStart(ctx context.Context, p store.Principal, args *startWorkflowArgs, doc any, event, messageID string) (map[string]any, error) {
	input, _ := replaceParams(emptyIfNil(args.Input), doc).(map[string]any)
	input["conductor.event.messageId"] = messageID
	input["conductor.event.name"] = event
	params := map[string]any{"taskToDomain": "${taskToDomain}"}
	if args.CorrelationID != "" {
		params["correlationId"] = args.CorrelationID
	}
	replaced, _ := replaceParams(params, doc).(map[string]any)
	req := startRequest{Name: args.Name, CorrelationID: args.CorrelationID}
	if v, ok := replaced["correlationId"]; ok && v != nil {
		req.CorrelationID = asText(v)
	}
	if args.Version != nil {
		req.Version = *args.Version
	}
	req.Input, _ = json.Marshal(input)
	// The handler's taskToDomain, else the message's (the publishing
	// run's, as an EVENT task's output carries it).
	req.TaskToDomain = args.TaskToDomain
	if len(req.TaskToDomain) == 0 {
		if m, ok := replaced["taskToDomain"].(map[string]any); ok && len(m) > 0 {
			req.TaskToDomain = map[string]string{}
			for k, v := range m {
				req.TaskToDomain[k] = asText(v)
			}
		}
	}
	status, body := s.internalCall(ctx, http.MethodPost, "/api/workflow", nil, nil, func(w http.ResponseWriter, r *http.Request) {
		s.start(w, r, p, req)
	})
	if status != http.StatusOK {
		return map[string]any{"error": callError(status, body)}, callFailure(status, body)
	}
	return map[string]any{"workflowId": string(body)}, nil
}

func (s *Server) actionComplete(ctx context.Context, p store.Principal, d *taskDetails, status string, doc any, event, messageID string) (map[string]any, error) {
	in := map[string]any{"workflowId": nilIfEmpty(d.WorkflowID), "taskId": nilIfEmpty(d.TaskID),
		"taskRefName": nilIfEmpty(d.TaskRefName), "reasonForIncompletion": nilIfEmpty(d.ReasonForIncompletion)}
	for k, v := range d.Output {
		in[k] = v
	}
	replaced, _ := replaceParams(in, doc).(map[string]any)
	workflowID, _ := replaced["workflowId"].(string)
	taskID, _ := replaced["taskId"].(string)
	ref, _ := replaced["taskRefName"].(string)
	ended := ""
	if taskID != "" {
		// By id: that task (the attempt it names, never a retry that
		// replaced it), read as the owner.
		code, body := s.internalCall(ctx, http.MethodGet, "/api/tasks/"+url.PathEscape(taskID), nil, map[string]string{"taskId": taskID},
			func(w http.ResponseWriter, r *http.Request) { s.getTask(w, r, p) })
		var t struct {
			WorkflowID string `json:"workflowInstanceId"`
			Ref        string `json:"referenceTaskName"`
			Status     string `json:"status"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &t) != nil {
			workflowID, ref = "", ""
		} else {
			workflowID, ref = t.WorkflowID, t.Ref
			switch t.Status {
			case engine.TaskScheduled, engine.TaskInProgress, "":
			default:
				ended = t.Status
			}
		}
	}
	if workflowID == "" || ref == "" {
		replaced["error"] = fmt.Sprintf("No task found with taskId: %s, reference name: %s, workflowId: %s",
			orNull(taskID), orNull(ref), orNull(workflowID))
		return replaced, nil
	}
	out := map[string]any{}
	for k, v := range replaced {
		out[k] = v
	}
	out["conductor.event.messageId"] = messageID
	out["conductor.event.name"] = event
	body, err := json.Marshal(out)
	if err != nil {
		return replaced, err
	}
	// The task's reasonForIncompletion, when it does not succeed, as
	// SimpleActionProcessor sets it.
	var reason *string
	if v := replaced["reasonForIncompletion"]; v != nil && status != engine.TaskCompleted {
		text := asText(v)
		reason = &text
	}
	pv := map[string]string{"workflowId": workflowID, "ref": ref, "status": status}
	code, resp := s.internalCall(ctx, http.MethodPost, "/api/tasks/"+url.PathEscape(workflowID)+"/"+url.PathEscape(ref)+"/"+status, body, pv,
		func(w http.ResponseWriter, r *http.Request) {
			if !s.mayActOn(w, r, p, workflowID) {
				return
			}
			if ended != "" {
				// Conductor ignores an update of a task that already ended.
				s.log.Info("event handler action ignored: the task already ended", "taskId", taskID, "workflowId", workflowID,
					"status", ended, "event", event, "messageId", messageID)
				writeText(w, http.StatusOK, taskID)
				return
			}
			s.completeForEvent(w, r, p, workflowID, ref, taskID, workerResult{Status: status, Output: body, Reason: reason})
		})
	if code != http.StatusOK {
		replaced["error"] = callError(code, resp)
		return replaced, callFailure(code, resp)
	}
	return replaced, nil
}

// completionRef is the engine's completion of task ref (attempt taskID
// when set) with res's status, output and reasonForIncompletion.
func completionRef(ref, taskID string, res workerResult) engine.Completion {
	c := completionOf(taskID, res.Status, res.Output, res)
	c.Ref = ref
	return c
}

// completeForEvent completes a task for complete_task / fail_task: the
// attempt taskID when set, else the task ref waits with; a task waiting
// for a worker needs the poll scope of its name, as the REST update does.
func (s *Server) completeForEvent(w http.ResponseWriter, r *http.Request, p store.Principal, runID, ref, taskID string, res workerResult) {
	q := s.conductor.queue
	var err error
	if taskID != "" {
		if name, _, ok := q.kindOf(taskID); ok {
			if !s.mayPoll(w, r, p, name) {
				return
			}
			err = q.complete(r.Context(), taskID, res)
			if err == nil {
				writeText(w, http.StatusOK, taskID)
				return
			}
		}
	} else if name, ok := q.nameOfRef(runID, ref); ok {
		if !s.mayPoll(w, r, p, name) {
			return
		}
		if _, err = q.completeRef(r.Context(), runID, ref, res); err == nil {
			writeText(w, http.StatusOK, taskID)
			return
		}
	}
	if err == nil || errors.Is(err, ErrUnknownTask) {
		_, err = s.conductor.eng.CompleteTaskWith(r.Context(), runID, completionRef(ref, taskID, res))
	}
	switch {
	case err == nil:
		writeText(w, http.StatusOK, taskID)
	case errors.Is(err, ErrUnknownTask):
		conductorError(w, r, http.StatusNotFound, s.masker.MaskString(err.Error()))
	default:
		s.completionError(w, r, err)
	}
}

func (s *Server) actionTerminate(ctx context.Context, p store.Principal, args *terminateArgs, doc any) (map[string]any, error) {
	replaced, _ := replaceParams(map[string]any{"workflowId": args.WorkflowID, "terminationReason": args.TerminationReason}, doc).(map[string]any)
	id, _ := replaced["workflowId"].(string)
	if id == "" {
		return replaced, errors.New("terminate_workflow: workflowId resolved to no workflow id")
	}
	reason, _ := replaced["terminationReason"].(string)
	target := "/api/workflow/" + url.PathEscape(id) + "?reason=" + url.QueryEscape(reason)
	code, resp := s.internalCall(ctx, http.MethodDelete, target, nil, map[string]string{"id": id},
		func(w http.ResponseWriter, r *http.Request) {
			if s.mayActOn(w, r, p, id) {
				s.terminateWorkflow(w, r, p)
			}
		})
	if code != http.StatusOK && code != http.StatusNoContent {
		return replaced, callFailure(code, resp)
	}
	return replaced, nil
}

// actionUpdateVariables is Orkes' update_workflow_variables: the run's
// variables updated as POST /api/workflow/{id}/variables does, with the
// rights terminate_workflow needs (workflows:manage, or having started
// the run, for the handler's owner and the message's publisher).
func (s *Server) actionUpdateVariables(ctx context.Context, p store.Principal, args *updateVarsArgs, doc any) (map[string]any, error) {
	replaced, _ := replaceParams(map[string]any{"workflowId": args.WorkflowID, "variables": emptyIfNil(args.Variables)}, doc).(map[string]any)
	id, _ := replaced["workflowId"].(string)
	if id == "" {
		return replaced, errors.New("update_workflow_variables: workflowId resolved to no workflow id")
	}
	vars, err := json.Marshal(replaced["variables"])
	if err != nil {
		return replaced, err
	}
	appendArray := args.AppendArray != nil && *args.AppendArray
	code, resp := s.internalCall(ctx, http.MethodPost, "/api/workflow/"+url.PathEscape(id)+"/variables", vars, map[string]string{"id": id},
		func(w http.ResponseWriter, r *http.Request) {
			if !s.mayActOn(w, r, p, id) {
				return
			}
			err := s.conductor.eng.UpdateVariables(r.Context(), id, vars, appendArray)
			switch {
			case err == nil:
				writeEmpty(w, http.StatusOK)
			case errors.Is(err, engine.ErrBadVariables):
				conductorError(w, r, http.StatusBadRequest, s.masker.MaskString(err.Error()))
			default:
				s.runError(w, r, err)
			}
		})
	if code != http.StatusOK {
		return replaced, callFailure(code, resp)
	}
	return replaced, nil
}

// internalCall runs h on a request built here (the REST call an action
// stands for) and returns the status and body it answered.
func (s *Server) internalCall(ctx context.Context, method, target string, body []byte, pathValues map[string]string, h http.HandlerFunc) (int, []byte) {
	r, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	r.Header.Set("Content-Type", "application/json")
	for k, v := range pathValues {
		r.SetPathValue(k, v)
	}
	w := newRecorder()
	h(w, r)
	return w.code(), w.body.Bytes()
}

// callError is the message of an internal call's error answer.
func callError(status int, body []byte) string {
	if msg := answerMessage(body); msg != "" {
		return fmt.Sprintf("%d: %s", status, msg)
	}
	return fmt.Sprintf("%d: %s", status, oneLine(string(body)))
}

func emptyIfNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}
