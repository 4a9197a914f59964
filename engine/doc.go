// Package engine loads Conductor workflow definitions and executes them with
// wfrun's secrets handling.
//
// # Definitions
//
// ParseDefinition reads a Conductor WorkflowDef (reference/conductor.md §5)
// and reports every problem at once in a *ValidationError, each with its JSON
// pointer: malformed JSON (line:column), schemaVersion other than 2, unknown
// task types, missing or duplicate taskReferenceName (nested decisionCases,
// defaultCase, forkTasks and loopOver included), references ${ref.…} to tasks
// that do not exist, bad evaluatorType, expressions that do not compile,
// JOIN joinOn refs that do not exist, invalid WAIT durations, and whatever
// the leaf tasks' Validators report. Every template (inputParameters,
// outputParameters, DO_WHILE items) and every SWITCH/DO_WHILE expression is
// compiled at load; running a task never re-parses anything.
//
// # Runs
//
// A run is persisted (runstore.Store) in Conductor's execution shape —
// workflowId, status, input, output, variables, tasks[] with
// inputData/outputData/status/retryCount/iteration/seq — plus what a resume
// needs: the definition, its hash and path, the principal and the
// (project, environment) scope. It is stored by parts and a write carries
// what changed, never the whole run: the head (the scalar members), each
// task record on its own (keyed by seq), input/variables/output when they
// were set, and the definition once per distinct definition (by hash,
// shared by every run of it). runstore.Assemble gives the one document back.
//
// Durable points. A write is one synchronous commit, made at:
//
//  1. the run's creation (with its lease, see below);
//  2. each task attempt that ended (COMPLETED, FAILED, ...): the record
//     carries whatever changed since the previous write — its SCHEDULED
//     and IN_PROGRESS states, a DO_WHILE's iteration, variables;
//  3. a task that starts waiting for an external completion (WAIT, HUMAN,
//     an asynchronous task), so that another process may complete it;
//  4. a SUB_WORKFLOW task: its record (SCHEDULED) before its child run is
//     stored, then the record IN_PROGRESS naming the stored child (the
//     child's id is derived from the record, so a resume after a crash in
//     between takes that child over; subworkflowchild.go);
//  5. the end: the archive (one transaction, below).
//
// Beside them, a task still running (or scheduled) a few tens of
// milliseconds after it started is written early, by one goroutine of the
// engine that looks at its runs (visible.go): another process sees it
// IN_PROGRESS, with its input as every write stores it. A task that ends
// sooner is not, so a sequential run of fast tasks still pays one commit
// per completed task, plus its creation and its end; an early write is
// ordered with the run's other writes (it never lands after a later
// state). What a crash (SIGKILL included) replays, by where it
// happens:
//
//   - before point 1: nothing was stored; there is no run to resume.
//   - between points: resume replays the definition over the stored
//     records. A task whose ended attempt was written is never run again:
//     an unsuccessful outcome stands (a permissive task's failure stays and
//     the run goes on past it), unless the task's retry policy retries it
//     or a retry of the run asked for a new attempt (resume.go).
//     A task whose attempt was running, or only scheduled, has no ended
//     record: it runs again (at-least-once, as with Conductor workers) —
//     its SCHEDULED/IN_PROGRESS states were not written, or were written
//     along with an earlier commit, and either way are redone.
//   - during a commit: the store applies a commit wholly or not at all, so
//     this is the case before or after it.
//   - waiting (point 3): the WAIT keeps its recorded deadline; a completion
//     delivered meanwhile (a signal) is applied on resume.
//   - during the archive: the primary record or the masked archive, never
//     an unmasked archive and never nothing.
//
// Other processes (wfrun show, wfrun runs) see the state of the last
// commit: a task that started less than a few tens of milliseconds ago may
// show as not started.
//
// Execution is a replay of the definition over the recorded tasks: the
// executor walks the task lists from the top and skips every task whose
// latest attempt already succeeded (a SWITCH reuses its recorded
// selectedCase, a DO_WHILE its recorded iteration, a SUB_WORKFLOW its child
// run id).
//
// Leases. The process that executes a run holds its lease (runstore.Lease:
// owner, pid, host, heartbeat), taken with the run's first write or by
// Resume/Restart, renewed every third of WithLeaseTTL (default 10s) and
// dropped with the archive, or when the run is interrupted. Resume and
// Restart of a run whose lease is live fail with runstore.ErrLeased naming
// the holder; the lease of a process that died expires after the TTL (at
// once when that process ran on this host and no longer exists). Terminate
// ends a run whoever holds it: the holder is asked through a signal its
// heartbeat watches; an orphaned run is ended by the caller; RUNNING
// sub-workflow runs are terminated with it. DeleteRun removes an ended run.
//
// # Secrets
//
// The engine has no secret logic of its own: every run has one
// *runsecrets.Run (package runsecrets), built from the engine's secret
// source, keyring and the definition's maskedFields, and everything secret
// goes through it. For each task, Resolve executes the ORIGINAL compiled
// input template twice (the stored form keeps ${workflow.secrets.X}, the
// transient copy handed to the executor has the values) and registers every
// value used before the task runs. The Run is the executor's Masker and
// SecretAccess, so HTTP auth credentials, EXEC bundles and UPDATE_SECRET's
// replaced and new values are registered as they are read. Whatever a task
// produces goes through Protect: masked, `_secrets` subtrees and
// maskedFields sealed, bound to the run id and JSON pointer. A write of the
// run that registered values appends them, sealed, to the run's log
// (runlog.go), so a resumed run masks what the interrupted one did; an external
// completion (CompleteTask) is sealed when it is written. Show and the
// printed output are runsecrets views; the archive is runsecrets.Archive.
//
// The definition is checked at load: the secret names a task reads or
// writes by name (HTTP auth.secret, EXEC bundles, UPDATE_SECRET secretKey)
// are literal, and no secret reference is part of program text (INLINE,
// LAMBDA, SWITCH, DO_WHILE, jq). A run that reads or writes secrets without
// a source able to serve it fails when it starts.
//
// A missing, expired or forbidden secret fails the task with
// FAILED_WITH_TERMINAL_ERROR and a reason naming the secret (never its
// value); the workflow fails. Secret sources that implement
// interpolate.BatchSecretSource (store.RunView) are asked once per task.
//
// When a run ends it is archived (`_secrets` and maskedFields values become
// "***" permanently), written to the archive with the primary record
// deleted in one transaction. Restart of an archived run fails with
// ErrArchivedSecrets when the restarted part needs such data. Archiving
// also replaces the `_secrets` templates of the stored definition: a
// restart takes the definition back from a copy whose hash the run
// recorded (its file, the definitions directory, its parent's inline
// sub-workflow), and fails with ErrArchivedSecrets without one. A value the
// run registered that its task definitions hold (pasted into one) is masked
// in the archived snapshot of them for good; a restart that would apply
// them fails with ErrArchivedSecrets unless it takes the task definitions
// registered now (RestartOptions.UseLatestDefinitions).
//
// # Control flow
//
// SWITCH (value-param, javascript/graaljs, expr; output evaluationResult and
// selectedCase; legacy DECISION too), DO_WHILE (loopCondition sees what
// Conductor's DoWhile.evaluateCondition gives it: the loop's own
// inputParameters resolved again before each evaluation, $.<loopRef> = the
// loop's whole output — iteration, and every kept iteration by number,
// $.loop['1'] — and $.<taskRef> = each loop task's latest output, from
// whichever iteration ran it last; over items also $.loopIndex and
// $.loopItem; items (or inputParameters._items) with loopItem/loopIndex in
// the loop's output, a value that is not a list a list of one, null none;
// inputParameters.items is an input, as in Conductor OSS, except in a loop
// with no loopCondition or a blank one (Orkes' list form; registration
// requires one where it checks the task), which iterates over it and also
// names the current item "item"; loop task refs get "__N" suffixes;
// ${ref.output} without suffix reads the latest iteration; the iterations
// reach a JavaScript condition lazily (tasks/eval.Lazy) and expressions
// read a running loop's output member by member, so an iteration costs the
// same however many ran before; inputParameters keepLastN keeps only the
// last N iterations' task records and entries, and the condition then sees
// only those),
// FORK_JOIN (branches run concurrently on goroutines; the first failing
// branch cancels the others and stops the run) + JOIN (waits only for its
// joinOn tasks, as in Conductor: branches not joined on keep running beside
// the tasks after the JOIN, and the run ends when they have; output:
// joinOn ref → output),
// SUB_WORKFLOW (inline workflowDefinition or by name from WithDefinitionsDir;
// the child is a run of its own with parentWorkflowId), SET_VARIABLE,
// TERMINATE, WAIT (duration, until, or external completion) and HUMAN
// (external completion: CompleteTask, usable from another process because
// it is delivered as a runstore signal), SIMPLE (WithWorker handlers),
// LAMBDA (Conductor's legacy scriptExpression task), FORK_JOIN_DYNAMIC
// (dynamicForkTasksParam + dynamicForkTasksInputParamName, Conductor's
// older dynamicForkJoinTasksParam naming a {"dynamicTasks":[...]} list, or
// forkTaskName/forkTaskType/forkTaskWorkflow + forkTaskInputs; the generated
// tasks are built from the fork's stored input and may reference only the
// secrets the definition references), DYNAMIC (dynamicTaskNameParam; the
// task it names takes the DYNAMIC task's own definition), START_WORKFLOW (an independent
// run, its id in the output), EVENT (to WithEventSink, or WithEventProvider
// for other queue types, under Conductor's queue names, payload masked;
// event.go), EXCLUSIVE_JOIN (after DECISION/SWITCH
// branches: the output of the first joinOn task that ran, else of the
// first defaultExclusiveJoinTask that ran; a failed one fails it).
//
// Records read as Conductor's: a SIMPLE task's taskType is its name, a
// fork's is FORK, a JOIN's inputData has joinOn (and the JOIN is recorded
// when its branches are scheduled, so an early end shows it CANCELED),
// SWITCH/DECISION record inputData.case, DECISION's output is caseOutput,
// the DO_WHILE record's iteration is the current one, retries carry
// retriedTaskId, TERMINATE's default reason is "Workflow is <S> by
// TERMINATE task: <id>". A SUB_WORKFLOW's name/version may be expressions,
// and so may its workflowDefinition; its child is TERMINATED when the parent
// ends early; a child that FAILED or TIMED_OUT fails or times the task out
// and is retried as the task's definition says, a TERMINATED child cancels
// the task (and so terminates the parent); a completion of the SUB_WORKFLOW
// task itself (CompleteTask) ends it and leaves the child running on its own
// (subworkflow_update.go). Pause/ResumePaused
// and Rerun (from a task) follow Conductor's pause/resume/rerun.
//
// A fork's records follow Conductor's decider passes, whatever goroutine
// runs first (forkpasses.go): the fork, each branch's first task and the
// JOIN; then, pass by pass, the next task of each branch whose synchronous
// task (INLINE, SET_VARIABLE, JSON_JQ_TRANSFORM, ...) ran; a branch whose
// task waits (a worker, a WAIT, a child run) schedules its next task once
// the passes have nothing more to schedule. (A nested fork's own branches
// keep their order among themselves, not with the outer fork's.) A
// FORK_JOIN_DYNAMIC whose input cannot be forked fails the run before the
// fork is recorded. A retry (Restart without fromStart) sets
// lastRetriedTime, from which the workflow timeout then counts; a restart
// from the start of a COMPLETED non-restartable run is refused.
//
// A child run that runs again (Restart, Retry, RerunWith) while the parent
// it failed has ended re-opens that parent, as Conductor's
// updateAndPushParents: the parent's SUB_WORKFLOW record goes back to
// IN_PROGRESS with the same child, its cancelled JOINs and DO_WHILEs
// resume, and so on up the chain (not past an optional SUB_WORKFLOW task or
// one a retry superseded); the topmost re-opened run executes and replays
// down to the child, so each run's masker is rebuilt as on resume. A child
// whose archived input lost its `_secrets` gets them from its parent again.
// A parent that still runs (or is PAUSED) re-opens its record too: when no
// process executes it, the restart takes it and executes it; when one does
// (this engine, or another `wfrun serve` sharing the run store), the
// re-open is handed to that process (directly, or as a run-store signal
// sealed for that run, that record and the record's re-open generation,
// so a signal put back after a later re-open is not taken), which runs the
// child beside its other
// tasks and ends only once the child has; a child left RUNNING by a
// restart that never handed over is noticed before the parent completes.
// Whatever the parent's status, its other SUB_WORKFLOW records that ended
// unsuccessfully (optional ones too) are re-opened with it and their children retried in
// place, and the re-opened record's execution log gets Conductor's line
// ("Sub workflow <child> retried.").
// Retry with resumeSubworkflowTasks retries the failed sub-workflow a run
// ended with instead of the run. A rerun whose task id belongs to a child
// reruns that child; a rerun from a SUB_WORKFLOW task reruns it in place
// (same record, a new child, the other records kept). The task a rerun
// starts from is reset in place in the rerun's commit, as Conductor's
// rerunWF resets it: the same record and task id, SCHEDULED, its times,
// output and poll count cleared. The input it runs with travels sealed in
// that commit too (rerunTask), so a resume after a crash gives it that
// input, until its attempt ends (or the SUB_WORKFLOW task names its new
// child). The records before it stay, earlier failed attempts included; a
// leaf task or JOIN among them that ended unsuccessfully (another fork
// branch's) is reset in place in that commit, as Conductor's finalizeRerun
// does (SCHEDULED, or IN_PROGRESS for a JOIN and a synchronous system
// task; same id), and the executor takes it over.
//
// # Task definitions, retries and timeouts
//
// A task's settings come from its inline taskDefinition, else from the
// registered TaskDef of its name (WithTaskDefs: a TaskDefs registry filled
// from a directory, or any TaskDefSource such as a server's metadata API),
// with TaskDef's defaults for absent fields; the task-level retryCount
// overrides the definition's, as in Conductor. A task of the run's
// definition with neither gets the definition Conductor's
// MetadataMapperService makes for it when the run starts, new
// TaskDef(name): a SIMPLE task is retried 3 times, FIXED 60 s apart (and
// an unanswered remote attempt times out after 3600 s), any other type
// not at all (retryCount 0, no response timeout), unless its own
// retryCount says otherwise. A DYNAMIC task's resolved task takes the
// DYNAMIC task's definition (that ad-hoc one included), not the one
// registered for the name it resolves, as DynamicTaskMapper keeps the
// WorkflowTask's. A task a dynamic fork makes has the registry's
// definition or none, and without one it is never retried (its own
// retryCount alone does not make it retry, as in Conductor's
// DeciderService). retryLogic FIXED,
// LINEAR_BACKOFF and EXPONENTIAL_BACKOFF (capped by maxRetryDelaySeconds,
// then 0..backoffJitterMs ms added); totalTimeoutSeconds stops the retries
// once that long has passed since the first attempt; every retry is a new
// record with retriedTaskId. timeoutSeconds applies
// timeoutPolicy (RETRY, TIME_OUT_WF, ALERT_ONLY); responseTimeoutSeconds
// times an unanswered attempt out and retries it (a SIMPLE task handed to
// remote workers runs these clocks from the worker's poll, and
// pollTimeoutSeconds while it waits for one: remote.go); inputTemplate supplies
// input defaults; concurrentExecLimit and rateLimitPerFrequency hold tasks
// SCHEDULED across the engine's runs (a remote task's are its pollers' to
// enforce with WithRemoteLimits, as wfrun serve does; under WithRemoteDelays a
// remote retry's retryDelaySeconds and a startDelay are its pollers' to hold,
// so an update is taken during them: remote_delay.go); runtimeMetadata names the secrets and
// env values a remote worker gets resolved beside the input (runtimemeta.go;
// both resolve when a worker's poll takes the task, remote_handoff.go). The workflow's timeoutSeconds applies
// its timeoutPolicy (TIME_OUT_WF, or ALERT_ONLY, the default). Every timer
// reads the engine's Clock (WithClock; ManualClock in tests). Optional
// tasks end COMPLETED_WITH_ERRORS, and so does a JOIN on such a task (its
// reason "name/taskId … completed with errors", as Conductor's Join). A permissive task that fails lets the run
// go on: a JOIN on it fails once its other tasks have ended, and a run that
// would complete FAILS with "Task <id> failed with status: ... and reason:
// ..." (Conductor's decider).
//
// A run that fails, times out or is ended by a TERMINATE task starts its
// failureWorkflow (a name, or "$workflow.input.x" / "${workflow.input.x}")
// with the original input plus workflowId, reason, failureStatus,
// failureTaskId and failedWorkflow (the failed run in its display form:
// masked, `_secrets` as "***"), under the same correlationId; its id is the
// output's "conductor.failure_workflow" (failureWorkflowVersion picks a
// version). The failure run executes only for an end that was stored: a
// process whose end of the run is refused (another process ended it
// first) drops the failure run it stored for it, unexecuted.
//
// The failure run and a START_WORKFLOW task's run are runs of their own, as
// in Conductor: persisted before they execute, started and not waited for
// (Start returns when its own run ends), executed in the background by the
// engine that started them (Started lists them, WaitStarted waits for them
// or interrupts them, StopStarted interrupts them), and RUNNING and resumable by any engine (Resume) if
// that process stops first.
//
// # outputFilter
//
// Every leaf task's output passes through one hook before it is masked,
// sealed or stored: Orkes' inputParameters.outputFilter. Its $${...}
// expressions survive input resolution (the stored inputData shows them as
// ${...}); the filter itself is compiled at load from the definition's
// source with one level of escape removed, and after the task ran it is
// resolved against the task's own raw output ({input, output} under the
// task's reference); its result replaces the output. The raw output is
// never stored, shown or quoted in a failure reason, and the outputFilter
// key is removed from the input the executor receives (an HTTP server never
// sees it). A selected value that is missing fails the attempt (FAILED,
// retryCount applies) with output {} and a reason naming the filter
// location. Orkes' rotation template relies on this:
// {"_secrets":{"token":"$${retrieve_token.output.response.body.token}"}}.
// An HTTP task's filter written inside http_request is refused at load: it
// would be ignored there and the whole response stored.
//
// EXEC (tasks.Exec) runs local commands and is not in the default registry;
// a definition using it is refused with a message saying how to enable it
// (wfrun run --allow-exec, tasks.RegisterExec).
package engine
