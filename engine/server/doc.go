// Package server is wfrun serve: the HTTP APIs real Conductor, Orkes and
// Taskcluster clients use, over wfrun's secret store and engine.
//
// # APIs
//
//   - Orkes secrets under /api/secrets (PUT a value, GET it as text/plain,
//     DELETE, /{key}/exists, list, /api/secrets-v2, /{key}/tags), with
//     Orkes' token auth: POST /api/token exchanges an application key
//     (keyId, keySecret) for a JWT that clients send in X-Authorization.
//     Without an auth configuration /api/token answers 404, which the Orkes
//     SDKs take as "no auth" (Conductor OSS).
//   - Taskcluster secrets under /api/secrets/v1 (ping, PUT/GET/DELETE
//     /secret/<name>, GET /secrets with continuationToken and limit), with
//     Hawk authentication and Taskcluster scopes.
//   - The Conductor API over wfrun's engine (WithConductor): task and
//     workflow definitions (/api/metadata, kept as files), start
//     (POST /api/workflow and /api/workflow/{name}, text/plain id),
//     execution, status, search, restart/retry/rerun/resume, batch poll with
//     long-poll (200 [] when idle) and the three task updates. SIMPLE tasks
//     without a local worker wait in an in-memory queue for a polling
//     worker: it receives ${workflow.secrets.*} resolved (as Orkes does)
//     and $<…> verbatim (SPEC §1: the executing component resolves it);
//     what it returns goes through the engine's path, masked and sealed
//     before it is stored. A task whose definition declares runtimeMetadata
//     names is polled with them resolved (secrets, then env values; missing
//     names left out), for that worker only. Both resolve when the poll
//     takes the task (engine.RemoteTask.Resolve), never while it waits: a
//     secret rotated meanwhile arrives rotated, and one that is missing or
//     forbidden then fails the task (the poll hands it to nobody).
//     A task is SCHEDULED until a worker polls it and
//     IN_PROGRESS from then; the engine keeps its clocks (timeoutSeconds,
//     pollTimeoutSeconds, responseTimeoutSeconds, see engine.RemoteTask):
//     an attempt not answered in time is TIMED_OUT and retried under a new
//     task id as its definition says. The definition's concurrentExecLimit
//     and rateLimitPerFrequency are enforced when a worker polls
//     (queuelimits.go), across processes with a shared queue. An answer for an attempt that already
//     ended is taken with success and applied to nothing, as Conductor does.
//     POST /api/workflow/test (workflowtest.go) is Conductor's workflow
//     test: a start request with mocked task outcomes (engine.Test),
//     answered with the run once the mocks took it as far as they go; its
//     worker tasks are in a domain of the test's own.
//     A start's taskToDomain puts worker tasks in domain queues
//     ("domain:type", polled with ?domain=), its priority orders them in
//     their queue, and its idempotencyKey/idempotencyStrategy make it
//     idempotent (queuedomains.go, conductor_start.go; the engine's
//     domains.go and idempotency.go). GET /api/tasks/queue/sizes, /size,
//     /all and /polldata[/all] report the queues (conductor_queues.go).
//     Runs by correlation id, running ids, a run's task pages, search-v2,
//     remove, terminate-remove and decide (conductor_more_workflow.go); a
//     task by id, its execution log (masked with its run's masker, kept in
//     the run store: engine.AppendTaskLog) and the synchronous update by
//     reference (conductor_more_tasks.go); task searches
//     (conductor_task_search.go): every run and task through execution's
//     masked view.
//     Event handlers (/api/event, events.go) consume Conductor's own event
//     queues, which always exist here (events_queue.go: sealed records in
//     the run store, events_store.go, or a sealed Redis stream per queue
//     with WithSharedQueue): for each message of an EVENT task, the active
//     handlers of its event evaluate their condition and run their actions
//     (events_processor.go) through the REST handlers, as the principal
//     that registered the handler limited to the scopes the message's
//     publisher (the principal of the run whose EVENT task published it)
//     holds too: nobody gains a right through a handler (events_authz.go).
//     Each action is recorded in the queue's sealed ledger before it runs
//     (events_ledger.go), so a message delivered again runs only the
//     actions not started; executions are kept and served at
//     /api/event/execution (events_exec.go).
//   - /metrics (Prometheus) and /healthz.
//
// # Several processes
//
// Processes sharing a run store (Redis) and a definitions directory share
// secrets, definitions and runs; each run executes in one process at a time
// (the engine's leases), and WithTakeover makes the others resume the runs
// of a process that died. With WithSharedQueue (wfrun serve on a Redis
// store) the SIMPLE tasks waiting for workers are shared too: a worker
// polling any process gets any pending task, each handed out once
// (sharedqueue.go); the process executing the run keeps its clocks and
// resolves a task's values when a poll anywhere takes it, handing them to
// that poll over Redis sealed and bound to the claim (sharedhandoff.go:
// nothing resolved waits in Redis for a poll); it is told of IN_PROGRESS
// reports over Redis pub/sub, the whole update sealed, and answers once
// stored (sharedprogress.go), and final answers given to another process
// reach it through the run store (engine.CompleteTaskWith, sealed). After a takeover a pending task stays
// pending in its place and a polled one stays with its worker. Without a
// shared queue a task is polled only from the process executing its run.
// A signal one process stores for a run another executes (terminate,
// pause, resume, skip, a sub-workflow re-open) is announced on a pub/sub
// channel every process hears, and the executor takes it at once
// (engine.WithSignalNotify); a lost notice costs a second, the stored
// signal stays. The same Redis keeps the Hawk nonces, so a signed request
// replayed to another process is refused (sharednonce.go).
//
// # Principals
//
// An auth configuration (LoadAuthConfig) maps Orkes application keys and
// Taskcluster clients to store principals with Taskcluster-style scopes;
// every secret operation goes through store.WithAccess with the caller's
// principal, exactly as the CLI's do. A workflow runs as the principal that
// started it (its secret references resolve with that principal's scopes);
// polling and updating tasks of name N needs the scope tasks:poll:N, since
// polled input holds resolved secrets; reading N's queues (sizes, poll
// data) needs tasks:read:N or tasks:poll:N, and requeuing them tasks:poll:N
// (conductor_queues.go). Starting a run of workflow W needs
// workflows:start:W, reading one workflows:read:W (search leaves out the
// runs the caller may not read), changing one workflows:manage:W, and
// writing definition D metadata:write:D; the principal that started a run
// reads and manages it without them (access.go, AuthConfig). Since a run
// keeps executing as the principal that started it, also when another one
// reruns it, those two scopes are as strong as the run's secrets. Without a
// configuration every caller is the local principal (all scopes): bind to
// loopback then.
//
// # What is never written anywhere
//
// Request and response bodies are never logged. Every value the server
// handles is registered with the server's masker, every value one of its
// runs registers with its log masker too (engine.WithProcessMasker), and
// every log line passes through a masking slog handler with the log masker
// before it is written; the access log masks a request's path decoded, as
// sent and with '+' read as a space. Answers to clients mask with the
// server's masker only (New says why).
package server
