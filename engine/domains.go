package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wfrun/wfrun/masking"
)

// Task domains and priority, as Conductor's WorkflowExecutor applies them
// when it schedules a task (setTaskDomains, getActiveDomain) and its task
// queues order what they hand out.
//
// A run's taskToDomain maps a task type ("*" for every type) to a list of
// domains, "d1,d2,NO_DOMAIN". A worker task (SIMPLE) of a mapped type is
// queued in one domain: the first of the list where a worker polled within
// the last ActiveWorkerWindow, or else the last of the list (none when it is
// NO_DOMAIN). The "*" entry applies first, a task type's own entry
// overrides it; system tasks get no domain. The choice is made when the
// task is scheduled and shows as the task record's domain; workers poll
// that domain's queue (`?domain=`), and a poll without a domain gets only
// tasks without one.
//
// A run's priority (0-99, from the start request or a SUB_WORKFLOW's
// subWorkflowParam; a child does not inherit its parent's) orders its
// worker tasks in their queue (the server's queue does the ordering).

// ActiveWorkerWindow is how recent a poll must be for its domain to count
// as having an active worker (Conductor's activeWorkerLastPollTimeout
// default).
const ActiveWorkerWindow = 10 * time.Second

// NoDomain in a domain list stands for "no domain".
const NoDomain = "NO_DOMAIN"

// LastPollFunc reports when a worker last polled for tasks of taskType in
// domain (the server's poll data); ok is false when none ever did.
type LastPollFunc func(taskType, domain string) (last time.Time, ok bool)

// WithLastPoll gives the engine the poll data it picks an active domain
// from. Without it no domain has an active worker: a task goes to the last
// domain of its list.
func WithLastPoll(fn LastPollFunc) Option { return func(e *Engine) { e.lastPoll = fn } }

// WithPriority sets the run's priority, 0 to 99 (see MaxPriority).
func WithPriority(p int) RunOption { return func(c *runConfig) { c.priority = p } }

// MaxPriority is the highest priority a run may have.
const MaxPriority = 99

// WithTaskToDomain sets the run's task-to-domain map (task type or "*" →
// "d1,d2,NO_DOMAIN").
func WithTaskToDomain(m map[string]string) RunOption {
	return func(c *runConfig) {
		if len(m) == 0 {
			c.taskToDomain = nil
			return
		}
		c.taskToDomain = make(map[string]string, len(m))
		for k, v := range m {
			c.taskToDomain[k] = v
		}
	}
}

// CheckPriority reports a priority outside 0..99, in the words of
// Conductor's StartWorkflowRequest validation.
func CheckPriority(p int) error {
	switch {
	case p < 0:
		return fmt.Errorf("priority: %d should be minimum 0", p)
	case p > MaxPriority:
		return fmt.Errorf("priority: %d should be maximum %d", p, MaxPriority)
	}
	return nil
}

// taskDomain is the domain a worker task of taskType is queued in now
// (Conductor's setTaskDomains for one task): "" for none.
func (r *runState) taskDomain(taskType string) string {
	r.mu.Lock()
	m := r.doc.TaskToDomain
	r.mu.Unlock()
	if len(m) == 0 {
		return ""
	}
	domain := ""
	if all := m["*"]; strings.TrimSpace(all) != "" {
		domain = r.e.activeDomain(taskType, strings.Split(all, ","))
	}
	if own, ok := m[taskType]; ok {
		domain = r.e.activeDomain(taskType, strings.Split(own, ","))
	}
	return domain
}

// activeDomain is Conductor's getActiveDomain: the first domain of the list
// with a worker that polled within ActiveWorkerWindow, else the last of the
// list ("" when it is NO_DOMAIN).
func (e *Engine) activeDomain(taskType string, domains []string) string {
	if len(domains) == 0 {
		return ""
	}
	if e.lastPoll != nil {
		now := e.now()
		// The last domain is the answer whether or not a worker polled it:
		// only the ones before it are looked up (with a shared queue, each
		// look is a Redis round trip on the task's scheduling path).
		for _, d := range domains[:len(domains)-1] {
			d = strings.TrimSpace(d)
			if d == "" || strings.EqualFold(d, NoDomain) {
				continue
			}
			if last, ok := e.lastPoll(taskType, d); ok && now.Sub(last) < ActiveWorkerWindow {
				return d
			}
		}
	}
	last := strings.TrimSpace(domains[len(domains)-1])
	if strings.EqualFold(last, NoDomain) {
		return ""
	}
	return last
}

// queueRemote sets what the queue needs of a worker task about to be
// handed out: its domain (the one its record got when it was scheduled,
// begin in exec.go; chosen now for a record that has none) and its run's
// priority.
func (r *runState) queueRemote(t *RemoteTask, rec *taskRecord) {
	r.mu.Lock()
	domain := rec.Domain
	t.Priority = r.doc.Priority
	r.mu.Unlock()
	if domain == "" {
		domain = r.taskDomain(t.Name)
		r.mu.Lock()
		rec.Domain = domain
		r.touchLocked(rec)
		r.mu.Unlock()
	}
	t.Domain = domain
}

// plainDomains refuses a taskToDomain a run resolved for a run it starts
// (a SUB_WORKFLOW's subWorkflowParam, a START_WORKFLOW request) that holds
// a value the run's masker registered — a secret's value the run was
// handed by its parent, say: a domain is a queue name, stored in clear in
// the run's head and in every task record, polled for by name and shown;
// a masked copy ("***") would queue the tasks in a domain no worker
// polls. It names the task type, never the value.
func (r *runState) plainDomains(m map[string]string) error {
	types := make([]string, 0, len(m))
	for k := range m {
		types = append(types, k)
	}
	sort.Strings(types)
	for _, k := range types {
		// "***": the value, masked in the input it was read from (a
		// START_WORKFLOW's request is its task's masked input).
		if r.sec.Text(k) != k || r.sec.Text(m[k]) != m[k] || strings.Contains(m[k], masking.Redacted) {
			return fmt.Errorf("taskToDomain %q holds a secret's value: a domain is stored in clear and shown; build it from non-secret input", r.sec.Text(k))
		}
	}
	return nil
}
