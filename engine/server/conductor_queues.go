package server

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/store"
)

// Conductor's queue endpoints (TaskResource): how many tasks a queue
// holds — waiting for a worker's poll, or put back by a worker's
// IN_PROGRESS update until its callbackAfterSeconds pass (queue.size) —
// who polled each task type last, and requeuing a task type's pending
// tasks. A queue is named as Conductor names it: "domain:type" for a
// domain's queue, the type alone otherwise (queuedomains.go).
//
// With auth on, a queue's size and poll data are the business of the task
// type's workers and of whoever watches them: they need tasks:read:<type>
// or tasks:poll:<type> (the scope that polls it). The lists of every
// queue leave out the types the caller may not read, as a search leaves
// out runs. Requeuing needs tasks:poll:<type>: it only offers the type's
// tasks again to its pollers, who may take and answer them anyway.

// ScopeTaskRead + a task name is the scope that reads the queues of that
// task type (their sizes, the tasks a worker holds, the poll data: which
// worker polled, when) without taking any of its tasks.
const ScopeTaskRead = "tasks:read:"

// mayReadQueue: p may read the queues of taskType.
func (s *Server) mayReadQueue(p store.Principal, taskType string) bool {
	return s.allowed(p, ScopeTaskRead+taskType) || s.allowed(p, ScopePollPrefix+taskType)
}

// checkQueueRead answers 403 naming tasks:read:<taskType> when p may not
// read its queues.
func (s *Server) checkQueueRead(w http.ResponseWriter, r *http.Request, p store.Principal, taskType string) bool {
	if s.mayReadQueue(p, taskType) {
		return true
	}
	s.forbid(w, r, p, ScopeTaskRead+taskType)
	return false
}

// queueTaskType is the task type of queue qn ("domain:type" or "type").
func queueTaskType(qn string) string {
	if _, t, ok := strings.Cut(qn, ":"); ok {
		return t
	}
	return qn
}

// queueSizes is GET /api/tasks/queue/sizes?taskType=a&taskType=b (or
// taskType=a,b): {"a": n, "b": m}, one member per queue name asked for;
// 403 when the caller may not read one of them (all or nothing).
func (s *Server) queueSizes(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var names []string
	for _, v := range r.URL.Query()["taskType"] {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		conductorError(w, r, http.StatusBadRequest, "taskType is required: the task types (queue names) to count, e.g. ?taskType=a&taskType=b")
		return
	}
	for _, n := range names {
		if !s.checkQueueRead(w, r, p, queueTaskType(n)) {
			return
		}
	}
	out := make(map[string]int, len(names))
	for _, n := range names {
		size, err := s.conductor.queue.size(r.Context(), n)
		if err != nil {
			s.queueError(w, r, err)
			return
		}
		out[n] = size
	}
	writeJSON(w, http.StatusOK, out)
}

// queueSize is GET /api/tasks/queue/size?taskType=&domain=&isolationGroupId=&executionNamespace=:
// the size of that one queue, a JSON number.
//
// Conductor names a queue domain:type@namespace-isolationGroup
// (QueueUtils.getQueueName), but only tasks its server executes itself
// (HTTP, KAFKA_PUBLISH and a few others) ever wait in an isolated or
// namespaced queue: a worker task's queue is domain:type whatever its task
// definition's isolationGroupId and executionNameSpace say (Conductor's
// SimpleTaskMapper sets neither). wfrun's queues hold worker tasks only,
// so a queue with an isolation group or a namespace is empty — and it is
// never looked up by its composed name, which could be another type's
// ("t-g" is type t in group g, and also the type "t-g").
func (s *Server) queueSize(w http.ResponseWriter, r *http.Request, p store.Principal) {
	q := r.URL.Query()
	taskType := strings.TrimSpace(q.Get("taskType"))
	if taskType == "" {
		conductorError(w, r, http.StatusBadRequest, "taskType is required")
		return
	}
	domain := strings.TrimSpace(q.Get("domain"))
	group := strings.TrimSpace(q.Get("isolationGroupId"))
	ns := strings.TrimSpace(q.Get("executionNamespace"))
	for _, part := range []string{taskType, domain, group, ns} {
		if strings.Contains(part, ":") {
			// The domain separator: such a name would be another queue's.
			conductorError(w, r, http.StatusBadRequest, "taskType, domain, isolationGroupId and executionNamespace must not contain ':'")
			return
		}
	}
	if !s.checkQueueRead(w, r, p, taskType) {
		return
	}
	if group != "" || ns != "" {
		writeJSON(w, http.StatusOK, 0)
		return
	}
	size, err := s.conductor.queue.size(r.Context(), queueName(taskType, domain))
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, size)
}

// queueAll is GET /api/tasks/queue/all: the size of every queue holding a
// task, by queue name (the caller's readable task types only).
func (s *Server) queueAll(w http.ResponseWriter, r *http.Request, p store.Principal) {
	all, err := s.conductor.queue.details(r.Context(), false)
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	out := map[string]int{}
	for qn, c := range all {
		if c.size > 0 && s.mayReadQueue(p, queueTaskType(qn)) {
			out[qn] = c.size
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// queueShard is the one shard wfrun reports a queue in: Conductor's
// sharded queues report {queue: {shard: {size, uacked}}}, and its SQL
// queues (one shard, like wfrun's) call theirs "a".
const queueShard = "a"

// queueAllVerbose is GET /api/tasks/queue/all/verbose, Conductor's
// {"queue": {"a": {"size": n, "uacked": m}}}: size as /queue/all counts
// it, uacked the tasks a worker polled and has not answered yet, for every
// queue holding either (the caller's readable task types only).
func (s *Server) queueAllVerbose(w http.ResponseWriter, r *http.Request, p store.Principal) {
	all, err := s.conductor.queue.details(r.Context(), true)
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	out := map[string]map[string]map[string]int{}
	for qn, c := range all {
		if (c.size > 0 || c.unacked > 0) && s.mayReadQueue(p, queueTaskType(qn)) {
			out[qn] = map[string]map[string]int{queueShard: {"size": c.size, "uacked": c.unacked}}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// requeuePrefix is the path of Conductor's requeue endpoint before its
// task type.
const requeuePrefix = "/api/tasks/queue/requeue/"

// requeueRoute serves POST /api/tasks/queue/requeue/{taskType} inside the
// routes of POST /api/tasks/{workflowId}/{ref}/{status} and
// /{workflowId}/{status}/signal, which match its paths too (the router
// cannot hold both patterns: neither is more specific for
// /queue/requeue/signal); other paths go to next.
func (s *Server) requeueRoute(next http.HandlerFunc) http.HandlerFunc {
	requeue := s.cond(s.requeuePending)
	return func(w http.ResponseWriter, r *http.Request) {
		if taskType, ok := strings.CutPrefix(r.URL.Path, requeuePrefix); ok && taskType != "" && !strings.Contains(taskType, "/") {
			r.SetPathValue("taskType", taskType)
			requeue(w, r)
			return
		}
		next(w, r)
	}
}

// requeuePending is POST /api/tasks/queue/requeue/{taskType}, Conductor's
// requeuePendingTasks: every pending task of the type, in any domain, is
// offered to pollers again — one a worker holds without an answer too
// (its worker's answer still counts while the task is pending); one
// waiting for its callbackAfterSeconds keeps waiting. The answer is how
// many (text/plain).
func (s *Server) requeuePending(w http.ResponseWriter, r *http.Request, p store.Principal) {
	taskType := r.PathValue("taskType")
	if strings.Contains(taskType, ":") {
		conductorError(w, r, http.StatusBadRequest, "task type must not contain ':'")
		return
	}
	if !s.allowed(p, ScopePollPrefix+taskType) {
		s.forbid(w, r, p, ScopePollPrefix+taskType)
		return
	}
	n, err := s.conductor.queue.requeueType(r.Context(), taskType)
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	writeText(w, http.StatusOK, strconv.Itoa(n))
}

func (s *Server) queueError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("task queue", "path", r.URL.Path, "error", s.masker.MaskString(err.Error()))
	conductorError(w, r, http.StatusInternalServerError, "task queue: "+s.masker.MaskString(err.Error()))
}

// pollDataJSON is Conductor's PollData: the last poll of a task type
// (queueName) in a domain (absent for none), by whom and when.
type pollDataJSON struct {
	QueueName    string `json:"queueName"`
	Domain       string `json:"domain,omitempty"`
	WorkerID     string `json:"workerId,omitempty"`
	LastPollTime int64  `json:"lastPollTime"`
}

func (q *queue) pollDataList(ctx context.Context, taskType string) ([]pollDataJSON, error) {
	m, err := q.pollData(ctx, taskType)
	if err != nil {
		return nil, err
	}
	out := make([]pollDataJSON, 0, len(m))
	for domain, p := range m {
		out = append(out, pollDataJSON{QueueName: taskType, Domain: domain, WorkerID: p.worker, LastPollTime: p.at.UnixMilli()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out, nil
}

// pollDataOf is GET /api/tasks/queue/polldata?taskType=: the last poll of
// the task type in each domain (the active-worker rule reads these).
func (s *Server) pollDataOf(w http.ResponseWriter, r *http.Request, p store.Principal) {
	taskType := strings.TrimSpace(r.URL.Query().Get("taskType"))
	if taskType == "" {
		conductorError(w, r, http.StatusBadRequest, "taskType is required")
		return
	}
	if !s.checkQueueRead(w, r, p, taskType) {
		return
	}
	out, err := s.conductor.queue.pollDataList(r.Context(), taskType)
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.maskPollData(out))
}

// maskPollData masks the worker ids of poll data again as they are shown:
// the server may have learnt a value since a poll recorded one (and poll
// data another process wrote to the shared queue passed its masker only).
func (s *Server) maskPollData(list []pollDataJSON) []pollDataJSON {
	for i := range list {
		list[i].WorkerID = s.pollMasker().MaskString(list[i].WorkerID)
	}
	return list
}

// pollDataAll is GET /api/tasks/queue/polldata/all: every task type's
// the caller may read.
func (s *Server) pollDataAll(w http.ResponseWriter, r *http.Request, p store.Principal) {
	types, err := s.conductor.queue.pollTypes(r.Context())
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	sort.Strings(types)
	out := []pollDataJSON{}
	for _, tt := range types {
		if !s.mayReadQueue(p, tt) {
			continue
		}
		list, err := s.conductor.queue.pollDataList(r.Context(), tt)
		if err != nil {
			s.queueError(w, r, err)
			return
		}
		out = append(out, list...)
	}
	writeJSON(w, http.StatusOK, s.maskPollData(out))
}
