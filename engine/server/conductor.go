package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// conductor is the Conductor API's state: the engine, the registered
// definitions, the task queue and the runs this process executes.
type conductor struct {
	eng   *engine.Engine
	defs  *defStore
	queue *queue
	tasks taskIndex // task id → run id (taskindex.go)

	events eventQueue // Conductor's event queues (events_queue.go)

	ctx    context.Context // cancelled at shutdown: runs stop, resumable
	cancel context.CancelFunc
	// polls ends every long poll (shutdown: they answer [] at once).
	polls     context.Context
	stopPolls context.CancelFunc
	wg        sync.WaitGroup

	// kick asks the takeover loop for a pass now (kickTakeover).
	kick chan struct{}

	mu       sync.Mutex
	starting map[string]chan error // run id → persisted (nil) or failed
	active   map[string]*runHandle // runs executing in this process
	gaveUp   map[string]bool       // runs whose takeover failed for good
	// decide: run id → its start waiting for its first decision
	// (startdecide.go).
	decide map[string][]chan struct{}
	// ending reports whether a run is ending (Server.ending): a launch
	// waits for this process to let go of such a run.
	ending func(ctx context.Context, id string) bool
	// rerunChildWait, when set (tests), is called each time a rerun's
	// answer waits for its SUB_WORKFLOW task to name its new child
	// (awaitRerunChild).
	rerunChildWait atomic.Pointer[func()]
	// decideWait, when set (tests), is called each time a call waits for
	// the write of a decision its run's executor has made (decided).
	decideWait atomic.Pointer[func()]
	// endWait, when set (tests), is called each time an update's answer
	// waits for the write of its task's end (awaitTaskEnded).
	endWait atomic.Pointer[func()]
}

// WithTakeover makes the server look for RUNNING runs that no live process
// holds (their lease expired, or its process is gone) every interval, and
// resume them: serve processes sharing a run store finish each other's runs
// when one dies, and a restarted serve finishes its own. 0 disables it.
func WithTakeover(every time.Duration) Option { return func(s *Server) { s.takeover = every } }

// WithConductor enables the Conductor API: workflows run on an engine built
// from engineOpts (run store, keyring, registry, secrets) plus the server's
// remote-worker queue; definitions registered through /api/metadata are
// kept as files in defsDir, which is also where SUB_WORKFLOW names are
// looked up.
func WithConductor(defsDir string, engineOpts ...engine.Option) Option {
	return func(s *Server) {
		s.conductorDir = defsDir
		s.engineOpts = engineOpts
	}
}

func (s *Server) initConductor() error {
	if s.conductorDir == "" {
		return nil
	}
	c := &conductor{defs: &defStore{dir: s.conductorDir}, starting: map[string]chan error{}, active: map[string]*runHandle{}, gaveUp: map[string]bool{},
		kick: make(chan struct{}, 1)}
	c.ending = s.ending
	c.queue = newQueue()
	c.queue.onPoll = func(name string, n int) { s.metrics.tasksPolled.WithLabelValues(name).Add(float64(n)) }
	c.queue.onOffer = c.pokeDeciding
	// Conductor's own event queues exist first: --event-sink conductor=…
	// (an engine option given to WithConductor) replaces them.
	events := s.newEventQueue()
	opts := append([]engine.Option{engine.WithEventSink(events)}, s.engineOpts...)
	opts = append(opts,
		engine.WithDefinitionsDir(s.conductorDir),
		engine.WithTaskDefs(c.defs),
		engine.WithRemoteWorker(c.queue.dispatch), engine.WithAngleForWorkers(), engine.WithRemoteLimits(), engine.WithRemoteDelays(),
		engine.WithLastPoll(c.queue.lastPoll),
		engine.WithEvents(func(ev engine.Event) {
			if ev.Kind == engine.EventTask {
				c.tasks.put(ev.TaskID, ev.RunID) // c, not s.conductor: set before any run starts
			}
			c.pokeDeciding(ev.RunID) // a start waiting for the run's first decision
			s.onEvent(ev)
		}),
		// Other processes sharing the queue take a signal stored here at
		// once (set before any run starts).
		// A call waiting for what a read of its run shows (a decision
		// stored: startdecide.go) looks again at each write.
		engine.WithWritten(c.pokeDeciding),
		// Every value a run registers reaches the log masker (New).
		engine.WithProcessMasker(s.logMasker),
		// A run's warning about a value too short to mask goes to the
		// server's log, not to Go's default logger.
		engine.WithMaskerLogger(s.log),
		engine.WithSignalNotify(func(ctx context.Context, id string) {
			if sq := c.queue.shared; sq != nil {
				sq.signalStored(ctx, id)
			}
		}),
	)
	eng, err := engine.New(opts...)
	if err != nil {
		return err
	}
	c.eng = eng
	c.queue.clock = eng.Clock()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.queue.stopping = func() bool { return c.ctx.Err() != nil }
	c.queue.warn = s.log.Warn
	c.queue.mask = s.masker.MaskString
	c.queue.maskPoll = s.pollMasker().MaskString
	if s.shared != nil {
		c.queue.shared = newSharedQueue(s.shared, eng.Transit())
		c.queue.shared.ownerGone = c.kickTakeover
		c.queue.shared.warn = c.queue.warnf
		c.queue.waiting = eng.TaskAttemptWaiting
		c.queue.signalled = eng.SignalStored
		if err := c.queue.shared.listen(c.ctx, c.queue.wakeName, c.queue.told); err != nil {
			c.cancel()
			return err
		}
		go c.queue.watchClaims(c.ctx)
	}
	c.polls, c.stopPolls = context.WithCancel(c.ctx)
	s.conductor = c
	c.events = events
	s.startEvents(c.ctx, events) // events_processor.go
	if s.takeover > 0 {
		go s.takeoverLoop(c.ctx, s.takeover)
	}
	return nil
}

// minKickGap is the least time between two takeover passes a kick asks
// for: every poll that meets a silent owner kicks.
const minKickGap = time.Second

// kickTakeover asks the takeover loop (when there is one) for a pass now,
// rather than at its next tick: a poll met a task whose owner no longer
// listens (it stopped, or died), so its runs may be free to take over —
// at once when it released their leases or died on this host, else once
// their leases expire. Kicks while a pass is due coalesce.
func (c *conductor) kickTakeover() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// takeoverLoop resumes orphaned runs (see WithTakeover), every interval
// and when kicked (kickTakeover). Resume takes the run's lease atomically,
// so of several processes exactly one wins a run; the others get
// runstore.ErrLeased and leave it.
func (s *Server) takeoverLoop(ctx context.Context, every time.Duration) {
	c := s.conductor
	t := time.NewTicker(every)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
			if wait := time.Until(last.Add(minKickGap)); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		sums, err := c.eng.List(ctx, runstore.ListOptions{Status: engine.StatusRunning})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("takeover: listing runs", "error", s.masker.MaskString(err.Error()))
			}
			continue
		}
		now := time.Now()
		for _, sum := range sums {
			if sum.Lease != nil && sum.Lease.Live(now) {
				continue
			}
			c.mu.Lock()
			skip := c.active[sum.ID] != nil || c.gaveUp[sum.ID]
			c.mu.Unlock()
			if skip {
				continue
			}
			id := sum.ID
			_ = c.launchWait(id, false, func(ctx context.Context) error {
				_, err := c.eng.Resume(ctx, id)
				switch {
				case err == nil:
					s.log.Info("resumed an orphaned run", "workflowId", id)
				case errors.Is(err, runstore.ErrLeased), errors.Is(err, engine.ErrInterrupted), errors.Is(err, engine.ErrNotRunning):
				default:
					c.mu.Lock()
					c.gaveUp[id] = true
					c.mu.Unlock()
					s.log.Error("takeover failed", "workflowId", id, "error", s.masker.MaskString(err.Error()))
				}
				return err
			})
		}
	}
}

// onEvent follows runs: a run's first RUNNING event means it is persisted
// (the start request may answer); ends are counted and logged.
func (s *Server) onEvent(ev engine.Event) {
	if ev.Kind != engine.EventWorkflow {
		return
	}
	s.metrics.runs.WithLabelValues(ev.Status).Inc()
	c := s.conductor
	if ev.Status == engine.StatusRunning {
		c.mu.Lock()
		ch := c.starting[ev.RunID]
		delete(c.starting, ev.RunID)
		c.mu.Unlock()
		if ch != nil {
			ch <- nil
		}
		return
	}
	s.log.Info("workflow ended", "workflowId", ev.RunID, "workflowType", ev.WorkflowType, "status", ev.Status, "reason", ev.Reason)
}

func newRunID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// launch starts run fn (a Start, Restart or Resume) on its own goroutine and
// returns once the run is persisted, or with the error that stopped it
// before.
func (c *conductor) launch(id string, fn func(ctx context.Context) error) error {
	return c.launchWait(id, true, fn)
}

// launchWait is launch; without wait it returns as soon as the run is
// handed to its goroutine (Resume emits no start event). A run this
// process's goroutine is letting go of — its end stored, or every task
// ended and the end being stored — is waited for first (settle), so a
// restart, retry, rerun or resume sent as soon as a client saw the run end
// is not refused as "executing" nor lost.
func (c *conductor) launchWait(id string, wait bool, fn func(ctx context.Context) error) error {
	ch := make(chan error, 1)
	for settled := false; ; settled = true {
		c.mu.Lock()
		h := c.active[id]
		if h == nil {
			break // c.mu is held
		}
		c.mu.Unlock()
		if settled || h.keep || !c.settle(id, h) {
			return fmt.Errorf("%w: run %s is executing", engine.ErrStillRunning, id)
		}
	}
	if wait {
		c.starting[id] = ch
	}
	ctx, cancel := context.WithCancel(c.ctx)
	h := &runHandle{cancel: cancel, done: make(chan struct{})}
	c.active[id] = h
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		err := fn(ctx)
		c.mu.Lock()
		if !h.keep {
			delete(c.active, id)
		}
		pending := c.starting[id]
		delete(c.starting, id)
		c.mu.Unlock()
		close(h.done)
		if pending != nil {
			if err == nil {
				err = errors.New("run ended before it was stored")
			}
			pending <- err
		}
	}()
	if !wait {
		return nil
	}
	return <-ch
}

// settleWait bounds how long a launch waits for this process to let go of
// a run that is ending.
const settleWait = 5 * time.Second

// settleTick is how often settle looks whether the run is still ending.
const settleTick = 50 * time.Millisecond

// settle waits, up to settleWait, for h (run id's goroutine in this
// process) to let go of the run while the run is ending (c.ending: its end
// is stored before the goroutine has archived it and given up its lease,
// and every task ended before its end is stored). It reports whether h let
// go; it stops waiting as soon as the run is no longer ending (a run still
// running, or one that moved on to its next task, is not waited for).
func (c *conductor) settle(id string, h *runHandle) bool {
	deadline := time.NewTimer(settleWait)
	defer deadline.Stop()
	tick := time.NewTicker(settleTick)
	defer tick.Stop()
	for {
		select {
		case <-h.done:
			return true
		default:
		}
		if c.ending == nil || !c.ending(c.ctx, id) {
			return false
		}
		select {
		case <-h.done:
			return true
		case <-deadline.C:
			return false
		case <-c.ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// ending: the run is stored as ended, or every one of its tasks ended.
func (s *Server) ending(ctx context.Context, id string) bool {
	st, err := s.conductor.eng.StoredState(ctx, id)
	return err == nil && (terminalStatus(st.Status) || allTasksEnded(st))
}

// allTasksEnded: the run has tasks and every one of them ended.
func allTasksEnded(st engine.RunState) bool {
	for _, t := range st.Tasks {
		if t.Open() {
			return false
		}
	}
	return len(st.Tasks) > 0
}

// runHandle is a run executing in this process.
type runHandle struct {
	cancel context.CancelFunc
	done   chan struct{}
	keep   bool // stays in active after it stops (being terminated)
}

// stopLocal interrupts run id if this process executes it and waits until
// it has stopped (RUNNING in the store, lease released); the run stays
// marked active, so nothing here resumes it, until release is called.
func (c *conductor) stopLocal(id string) (release func()) {
	c.mu.Lock()
	h := c.active[id]
	if h == nil {
		// Reserve the id so the takeover loop leaves it alone meanwhile.
		h = &runHandle{cancel: func() {}, done: make(chan struct{}), keep: true}
		close(h.done)
		c.active[id] = h
	}
	h.keep = true
	c.mu.Unlock()
	h.cancel()
	<-h.done
	return func() {
		c.mu.Lock()
		if c.active[id] == h {
			delete(c.active, id)
		}
		c.mu.Unlock()
	}
}

// shutdown stops the runs of this process: they stay RUNNING in the run
// store and continue with Resume (PUT /api/workflow/{id}/resume, or the
// next serve). In-flight HTTP requests are the http.Server's business.
func (c *conductor) shutdown(ctx context.Context) error {
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = c.eng.StopStarted(ctx) // interrupted all the same
		return ctx.Err()
	}
	// The runs the engine started on its own (a START_WORKFLOW task's, a
	// failureWorkflow, a SUB_WORKFLOW child detached by an update) stop
	// as this server's runs do: RUNNING, their leases released.
	return c.eng.StopStarted(ctx)
}

// StopPolling ends every long poll now and makes new polls answer at once
// ([] or 204): call it when the HTTP server starts shutting down
// (http.Server.RegisterOnShutdown), so waiting polls do not hold it up.
func (s *Server) StopPolling() {
	if s.conductor != nil {
		s.conductor.stopPolls()
	}
}

// Shutdown stops background work: the Conductor API's runs, and those its
// engine started on its own, are interrupted and left resumable in the run
// store. Call it after
// http.Server.Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.conductor != nil {
		return s.conductor.shutdown(ctx)
	}
	return nil
}

// Engine returns the engine of the Conductor API (nil without WithConductor).
func (s *Server) Engine() *engine.Engine {
	if s.conductor == nil {
		return nil
	}
	return s.conductor.eng
}

// enginePrincipal converts a store principal for a run.
func enginePrincipal(p store.Principal) engine.Principal {
	return engine.Principal{Name: p.Name, Scopes: append([]string(nil), p.Scopes...)}
}

// conductorHandler runs as an authenticated principal.
type conductorHandler func(w http.ResponseWriter, r *http.Request, p store.Principal)

func (s *Server) cond(h conductorHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.orkesPrincipal(w, r)
		if !ok {
			return
		}
		setPrincipal(r, p.Name)
		h(w, r, p)
	}
}

func (s *Server) conductorRoutes(m *http.ServeMux) {
	// metadata
	m.HandleFunc("POST /api/metadata/workflow", s.cond(s.registerWorkflow))
	m.HandleFunc("PUT /api/metadata/workflow", s.cond(s.updateWorkflows))
	m.HandleFunc("GET /api/metadata/workflow", s.cond(s.listWorkflowDefs))
	m.HandleFunc("GET /api/metadata/workflow/{name}", s.cond(s.getWorkflowDef))
	m.HandleFunc("DELETE /api/metadata/workflow/{name}/{version}", s.cond(s.deleteWorkflowDef))
	m.HandleFunc("POST /api/metadata/taskdefs", s.cond(s.registerTaskDefs))
	m.HandleFunc("PUT /api/metadata/taskdefs", s.cond(s.updateTaskDef))
	m.HandleFunc("GET /api/metadata/taskdefs", s.cond(s.listTaskDefs))
	m.HandleFunc("GET /api/metadata/taskdefs/{name}", s.cond(s.getTaskDef))
	m.HandleFunc("DELETE /api/metadata/taskdefs/{name}", s.cond(s.deleteTaskDef))
	s.eventRoutes(m) // events.go: /api/event
	// workflows
	m.HandleFunc("POST /api/workflow", s.cond(s.startWorkflowRequest))
	m.HandleFunc("POST /api/workflow/{name}", s.cond(s.startWorkflowByName))
	m.HandleFunc("POST /api/workflow/test", s.cond(s.testWorkflow))
	m.HandleFunc("POST /api/workflow/execute/{name}/{version}", s.cond(s.executeWorkflow)) // conductor_execute.go
	// Orkes' execute/{name} overlaps the POST {id}/<action> routes:
	// firstSegmentRoute, on each of them and on the other two-segment paths.
	executeAsAPI := s.cond(s.executeWorkflowAsAPI)
	orExecute := func(next http.HandlerFunc) http.HandlerFunc {
		return firstSegmentRoute("execute", "name", executeAsAPI, next)
	}
	m.HandleFunc("POST /api/workflow/{first}/{second}", orExecute(notFoundRoute))
	m.HandleFunc("GET /api/workflow/search", s.cond(s.searchWorkflows))
	// bulk/{action} is more specific than {id}/{action}: conductor_bulk.go
	m.HandleFunc("PUT /api/workflow/bulk/pause", s.cond(s.bulk(s.condRun(needManage, "id", s.pauseWorkflow))))
	m.HandleFunc("PUT /api/workflow/bulk/resume", s.cond(s.bulk(s.condRun(needManage, "id", s.resumeWorkflow))))
	m.HandleFunc("POST /api/workflow/bulk/restart", s.cond(s.bulk(s.condRun(needManage, "id", s.restartWorkflow(true)))))
	m.HandleFunc("POST /api/workflow/bulk/retry", s.cond(s.bulk(s.condRun(needManage, "id", s.restartWorkflow(false)))))
	m.HandleFunc("POST /api/workflow/bulk/terminate", s.cond(s.bulk(s.condRun(needManage, "id", s.terminateWorkflow))))
	m.HandleFunc("GET /api/workflow/{id}", s.cond(s.getWorkflow))
	// running/{name} and decide/{id} overlap {id}/status, {id}/tasks,
	// {id}/pause and {id}/resume: firstSegmentRoute (conductor_more_workflow.go).
	running := s.cond(s.runningWorkflows)
	decide := s.condRun(needManage, "id", s.decideWorkflow)
	m.HandleFunc("GET /api/workflow/{id}/status", firstSegmentRoute("running", "name", running, s.cond(s.getWorkflowStatus)))
	m.HandleFunc("GET /api/workflow/{id}/tasks", firstSegmentRoute("running", "name", running, s.condRun(needRead, "id", s.workflowTasks)))
	m.HandleFunc("GET /api/workflow/{first}/{second}", firstSegmentRoute("running", "name", running, notFoundRoute))
	m.HandleFunc("PUT /api/workflow/{first}/{second}", firstSegmentRoute("decide", "id", decide, notFoundRoute))
	m.HandleFunc("GET /api/workflow/{name}/correlated/{correlationId}", s.cond(s.getCorrelated))
	m.HandleFunc("POST /api/workflow/{name}/correlated", orExecute(s.cond(s.postCorrelated)))
	m.HandleFunc("POST /api/workflow/correlated/batch", s.cond(s.postCorrelatedBatch))
	m.HandleFunc("GET /api/workflow/search-v2", s.cond(s.searchWorkflowsV2))
	m.HandleFunc("GET /api/workflow/search-by-tasks", s.cond(s.searchWorkflowsByTasks(false))) // conductor_task_search.go
	m.HandleFunc("GET /api/workflow/search-by-tasks-v2", s.cond(s.searchWorkflowsByTasks(true)))
	m.HandleFunc("DELETE /api/workflow/{id}/remove", s.condRun(needManage, "id", s.removeWorkflow))
	m.HandleFunc("DELETE /api/workflow/{id}/terminate-remove", s.condRun(needManage, "id", s.terminateRemove))
	m.HandleFunc("POST /api/workflow/{id}/restart", orExecute(s.condRun(needManage, "id", s.restartWorkflow(true))))
	m.HandleFunc("POST /api/workflow/{id}/rerun", orExecute(s.condRun(needManage, "id", s.rerunWorkflow)))
	m.HandleFunc("POST /api/workflow/{id}/retry", orExecute(s.condRun(needManage, "id", s.restartWorkflow(false))))
	m.HandleFunc("PUT /api/workflow/{id}/resume", firstSegmentRoute("decide", "id", decide, s.condRun(needManage, "id", s.resumeWorkflow)))
	m.HandleFunc("PUT /api/workflow/{id}/pause", firstSegmentRoute("decide", "id", decide, s.condRun(needManage, "id", s.pauseWorkflow)))
	m.HandleFunc("PUT /api/workflow/{id}/skiptask/{ref}", s.condRun(needManage, "id", s.skipTask))
	m.HandleFunc("POST /api/workflow/{id}/resetcallbacks", orExecute(s.condRun(needManage, "id", s.resetCallbacks)))
	m.HandleFunc("DELETE /api/workflow/{id}", s.condRun(needManage, "id", s.terminateWorkflow))
	m.HandleFunc("POST /api/workflow/{id}/terminate", orExecute(s.condRun(needManage, "id", s.terminateWorkflow)))
	m.HandleFunc("POST /api/workflow/{id}/variables", orExecute(s.condRun(needManage, "id", s.updateVariables))) // variables.go
	// tasks
	m.HandleFunc("GET /api/tasks/queue/sizes", s.cond(s.queueSizes)) // conductor_queues.go
	m.HandleFunc("GET /api/tasks/queue/size", s.cond(s.queueSize))
	m.HandleFunc("GET /api/tasks/queue/all", s.cond(s.queueAll))
	m.HandleFunc("GET /api/tasks/queue/all/verbose", s.cond(s.queueAllVerbose))
	m.HandleFunc("GET /api/tasks/queue/polldata", s.cond(s.pollDataOf))
	m.HandleFunc("GET /api/tasks/queue/polldata/all", s.cond(s.pollDataAll))
	m.HandleFunc("GET /api/tasks/poll/batch/{type}", s.cond(s.pollBatch))
	m.HandleFunc("GET /api/tasks/poll/{type}", s.cond(s.pollOne))
	m.HandleFunc("POST /api/tasks", s.cond(s.updateTask(false)))
	m.HandleFunc("POST /api/tasks/update-v2", s.cond(s.updateTask(true)))
	// An external completion of a run's task, like a signal, changes the
	// run: it needs workflows:manage (or to own the run), and a task
	// held for a worker also the task's poll scope, as before.
	// Both also carry POST /api/tasks/queue/requeue/{taskType} (requeueRoute).
	m.HandleFunc("POST /api/tasks/{workflowId}/{ref}/{status}", s.requeueRoute(s.condRun(needManage, "workflowId", s.updateTaskByRef)))
	m.HandleFunc("POST /api/tasks/{workflowId}/{status}/signal", s.requeueRoute(s.condRun(needManage, "workflowId", s.signalAsync)))
	m.HandleFunc("POST /api/tasks/{workflowId}/{status}/signal/sync", s.condRun(needManage, "workflowId", s.signalSync))
	m.HandleFunc("POST /api/tasks/{workflowId}/{ref}/{status}/sync", s.condRun(needManage, "workflowId", s.updateTaskSync)) // conductor_more_tasks.go
	m.HandleFunc("GET /api/tasks/{taskId}", s.cond(s.getTask))
	m.HandleFunc("GET /api/tasks/{taskId}/{sub}", s.tasksSubRoute(s.cond(s.getTaskLogs)))
	m.HandleFunc("POST /api/tasks/{taskId}/log", s.cond(s.postTaskLog))
	m.HandleFunc("GET /api/tasks/search", s.cond(s.searchTasks(false))) // conductor_task_search.go
	m.HandleFunc("GET /api/tasks/search-v2", s.cond(s.searchTasks(true)))
}

func (s *Server) unsupported(msg string) conductorHandler {
	return func(w http.ResponseWriter, r *http.Request, _ store.Principal) {
		conductorError(w, r, http.StatusNotImplemented, msg)
	}
}
