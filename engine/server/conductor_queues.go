package server

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/wfrun/wfrun/store"
)

// Conductor's queue size endpoints (TaskResource): how many tasks a queue
// holds — waiting for a worker's poll, or put back by a worker's
// IN_PROGRESS update until its callbackAfterSeconds pass (queue.size). A
// queue is named as Conductor names it: "domain:type" for a domain's
// queue, the type alone otherwise (queuedomains.go).

// queueSizes is GET /api/tasks/queue/sizes?taskType=a&taskType=b (or
// taskType=a,b): {"a": n, "b": m}, one member per queue name asked for.
func (s *Server) queueSizes(w http.ResponseWriter, r *http.Request, _ store.Principal) {
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
func (s *Server) queueSize(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	q := r.URL.Query()
	taskType := strings.TrimSpace(q.Get("taskType"))
	if taskType == "" {
		conductorError(w, r, http.StatusBadRequest, "taskType is required")
		return
	}
	qn := queueName(taskType, strings.TrimSpace(q.Get("domain")))
	if ns := strings.TrimSpace(q.Get("executionNamespace")); ns != "" {
		qn += "@" + ns
	}
	if iso := strings.TrimSpace(q.Get("isolationGroupId")); iso != "" {
		qn += "-" + iso
	}
	size, err := s.conductor.queue.size(r.Context(), qn)
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, size)
}

// queueAll is GET /api/tasks/queue/all: the size of every queue holding a
// task, by queue name.
func (s *Server) queueAll(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	all, err := s.conductor.queue.sizes(r.Context())
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, all)
}

func (s *Server) queueError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("task queue", "path", r.URL.Path, "error", s.masker.MaskString(err.Error()))
	conductorError(w, r, http.StatusInternalServerError, "task queue: "+s.masker.MaskString(err.Error()))
}

// sizes returns the size of every non-empty queue.
func (q *queue) sizes(ctx context.Context) (map[string]int, error) {
	names := map[string]bool{}
	if q.shared != nil {
		for _, prefix := range []string{sharedPrefix + "pending:", sharedPrefix + "delayed:"} {
			err := q.shared.scanKeys(ctx, prefix+"*", func(key string) { names[strings.TrimPrefix(key, prefix)] = true })
			if err != nil {
				return nil, err
			}
		}
	} else {
		// One pass: size's count for every queue at once.
		q.mu.Lock()
		out := map[string]int{}
		for qn, list := range q.pending {
			if len(list) > 0 {
				out[qn] += len(list)
			}
		}
		for _, d := range q.byID {
			if d.callback && !d.queued {
				out[d.queue]++
			}
		}
		q.mu.Unlock()
		return out, nil
	}
	out := map[string]int{}
	for qn := range names {
		n, err := q.size(ctx, qn)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out[qn] = n
		}
	}
	return out, nil
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
func (s *Server) pollDataOf(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	taskType := strings.TrimSpace(r.URL.Query().Get("taskType"))
	if taskType == "" {
		conductorError(w, r, http.StatusBadRequest, "taskType is required")
		return
	}
	out, err := s.conductor.queue.pollDataList(r.Context(), taskType)
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// pollDataAll is GET /api/tasks/queue/polldata/all: every task type's.
func (s *Server) pollDataAll(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	types, err := s.conductor.queue.pollTypes(r.Context())
	if err != nil {
		s.queueError(w, r, err)
		return
	}
	sort.Strings(types)
	out := []pollDataJSON{}
	for _, tt := range types {
		list, err := s.conductor.queue.pollDataList(r.Context(), tt)
		if err != nil {
			s.queueError(w, r, err)
			return
		}
		out = append(out, list...)
	}
	writeJSON(w, http.StatusOK, out)
}
