package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
)

// Workflow statuses.
const (
	StatusRunning    = "RUNNING"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
	StatusTimedOut   = "TIMED_OUT"
	StatusTerminated = "TERMINATED"
	StatusPaused     = "PAUSED"
)

// Task statuses (Conductor's).
const (
	TaskScheduled           = "SCHEDULED"
	TaskInProgress          = "IN_PROGRESS"
	TaskCompleted           = "COMPLETED"
	TaskCompletedWithErrors = "COMPLETED_WITH_ERRORS"
	TaskFailed              = "FAILED"
	TaskFailedTerminal      = "FAILED_WITH_TERMINAL_ERROR"
	TaskCanceled            = "CANCELED"
	TaskSkipped             = "SKIPPED"
	TaskTimedOut            = "TIMED_OUT"
)

func terminalWorkflow(s string) bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusTimedOut || s == StatusTerminated
}

func successfulTask(s string) bool {
	return s == TaskCompleted || s == TaskCompletedWithErrors || s == TaskSkipped
}

// Principal is who a run executes as, for secret access; it is persisted
// with the run so a resumed run keeps its rights.
type Principal = store.Principal

// taskRecord is one task execution attempt. inMem/outMem are the in-memory
// forms (masked, `_secrets` in clear); inStored/outStored the persisted forms.
type taskRecord struct {
	TaskID      string
	Ref         string
	BaseRef     string
	TaskType    string
	TaskDefName string
	Status      string
	RetryCount  int
	Iteration   int
	Seq         int
	Reason      string
	// EmptyReasonAt is the status the record had when an update gave it
	// the empty reasonForIncompletion (Conductor's "", not null): while
	// the record keeps that status and no other reason, its reason is ""
	// (emptyReason). A record reset in place is none of those.
	EmptyReasonAt string
	Scheduled     int64
	Start         int64
	End           int64
	WaitUntil     int64
	Callback      int64 // a worker's callbackAfterSeconds (IN_PROGRESS update)
	// Postponed is when a WAIT an update IN_PROGRESS put back in its
	// queue is looked at again (Unix ms; 0: at its end), exec.go.
	Postponed  int64
	StartDelay int64 // a retry's delay: its startDelayInSeconds (DeciderService.retry)
	// Awaiting, ZeroDelay and filtered side by side: a bool between two
	// int64s takes eight bytes (taskRecordSize).
	Awaiting  bool // waits for an external completion (CompleteTask)
	ZeroDelay bool // a StartDelay of 0 is stored, not shown as a startDelay (startdelay.go)
	// filtered: this attempt's result already went through its
	// outputFilter (an asyncComplete HTTP task's, before its wait).
	filtered      bool
	SubWorkflowID string
	RetriedTaskID string // the attempt this one retries
	Domain        string // the queue domain of a worker task (domains.go)
	// IsolationGroupID and ExecutionNameSpace: the task definition's, as
	// Conductor's mappers record them (isolation.go).
	IsolationGroupID   string
	ExecutionNameSpace string
	// RateLimitPerFrequency, RateLimitFrequencyInSeconds and
	// ResponseTimeoutSeconds: the definition's, on the types Conductor's
	// mappers copy them to (isolation.go).
	RateLimitPerFrequency       int
	RateLimitFrequencyInSeconds int
	ResponseTimeoutSeconds      int64
	// WorkerID and PollCount: the worker that last polled a remote task's
	// attempt and how many polls handed it out (remote.go), as Conductor's
	// Task shows them.
	WorkerID  string
	PollCount int
	// Updated is when the record last changed (Conductor's updateTime):
	// every change a task's execution makes goes through touchLocked,
	// which marks it unstamped; the record's next encoding (its write, or
	// the document expressions read) stamps it with the time it is
	// encoded (stampLocked), as Conductor's DAO sets updateTime when it
	// writes the task. One clock read per write, however many changes.
	Updated   int64
	unstamped bool
	published string // the queue an EVENT task published to, as sent (event.go)

	inMem, inStored   []byte
	outMem, outStored []byte
	envDoc            []byte     // cached interpolate.Env view
	headDoc           []byte     // envDoc without the output, for a running loop (env.go)
	loop              *loopState // a running DO_WHILE's output (loop.go)
	outIdx            *objIndex  // output's members, for references into a large output (env.go)
	enc               []byte     // cached persisted form (see encode.go)
	// The flags, dirty to keptWrapped, side by side: a bool between two
	// words takes one (taskRecordSize).
	dirty         bool // changed since the last write (in runState.dirty)
	forgotten     bool // dropped from the run (keepLastN)
	opensDecision bool // a FORK whose begin opened a decision (forkdecision.go)
	noStart       bool // a SUB_WORKFLOW rerun in place: its startTime stays 0 (rerun.go)
	// unmapped: a SWITCH or DECISION whose case's first task is being
	// mapped; expressions do not see it yet (caseMapping, switch.go).
	unmapped bool

	// heldReason: the record keeps a reasonForIncompletion it did not
	// end with, until the task's next update, as Conductor's does: a
	// rerun reset it in place keeping its own (rerun.go), or it is a
	// retry, which DeciderService.retry gives the failed attempt's
	// (beginRecord). A SUB_WORKFLOW's ends when it starts its child
	// (SubWorkflow's attach clears it); a system task that completes
	// without a reason of its own keeps it (execLeaf).
	heldReason bool

	// keptWrapped: the SUB_WORKFLOW record a rerun reset in place runs
	// with the child's input its stored input holds (replacementInput),
	// which stays as it is, workflowInput within (rerun.go).
	keptWrapped bool

	// indexed: the run store's reference index names this record for
	// its references, or a later one (refindex.go).
	indexed bool

	wt       *WorkflowTask
	later    *laterInput     // a remote task's input, resolved at hand-off (remote_handoff.go)
	answered *attemptOutcome // a worker's answer waits for the write of this attempt's end (remote_stored.go)
	env      runEnv          // its input's environment (begin)
	rx       taskIndexState  // what the run's remaskIndex holds of it (remask.go)

	// passes, passRound: the fork passes and the round in which a fork
	// branch scheduled it (dropPass).
	passes    *forkPasses
	passRound int

	// retried: the record of the attempt this one retries (its
	// RetriedTaskID), once known (retriedRecordLocked, rerun.go).
	retried *taskRecord
}

// emptyReason reports whether t's reason is the empty text an update gave
// (Conductor's "") rather than none (null). Callers hold r.mu.
func (t *taskRecord) emptyReason() bool {
	return t.Reason == "" && t.EmptyReasonAt != "" && t.EmptyReasonAt == t.Status
}

type taskDoc struct {
	taskHead
	InputData  json.RawMessage `json:"inputData"`
	OutputData json.RawMessage `json:"outputData"`
}

// runDoc is the persisted run: Conductor's execution shape plus what a
// resume needs (the definition, who runs it and where).
type runDoc struct {
	runHead
	Input              json.RawMessage `json:"input"`
	Output             json.RawMessage `json:"output"`
	Variables          json.RawMessage `json:"variables"`
	Tasks              []taskDoc       `json:"tasks"`
	WorkflowDefinition json.RawMessage `json:"workflowDefinition"`
	// TaskDefs is the task definitions the run started with (and the
	// sub-workflow versions it pinned), sealed (taskdefsnap.go,
	// subpin.go): a part of the stored run of its own, not a member
	// of the head every write carries.
	TaskDefs string `json:"taskDefs,omitempty"`
	// TaskDefsMasked: the archive masked a value the run registered in
	// its TaskDefs (taskdefarchive.go); a restart that runs them is refused.
	TaskDefsMasked bool `json:"taskDefsMasked,omitempty"`
	// TestMocks is a test run's mocks, sealed (mock.go): a part of the
	// stored run of its own, written once.
	TestMocks string `json:"testMocks,omitempty"`
	// RunLog is the run's log (runlog.go): entries appended, each written
	// once.
	RunLog []json.RawMessage `json:"runLog,omitempty"`
	// headChecked: the head was authenticated as read (checkHead).
	headChecked bool
	// RegisteredValues and MocksUsed are the head members an earlier wfrun
	// kept what the log keeps in, rewritten with every write: read when
	// such a run is loaded, moved to the log by its next write.
	RegisteredValues string         `json:"registeredValues,omitempty"`
	MocksUsed        map[string]int `json:"mocksUsed,omitempty"`
}

// runState is the in-memory run. mu guards everything below it; saveMu
// orders persistence so an older snapshot never overwrites a newer one.
type runState struct {
	e      *Engine
	def    *Definition
	id     string
	tag    [4]byte         // the run's tag, which its task ids carry (tasklook.go)
	sec    *runsecrets.Run // every secret of the run goes through it
	events func(Event)

	// onRecord is called (under mu) when the next record is added
	// (loopbeside.go).
	onRecord func()

	saveMu                         sync.Mutex
	varsMu                         sync.Mutex // held across a read-merge-write of the variables (mergeVariablesWith)
	mu                             sync.Mutex
	doc                            runDoc    // scalar fields; Input/Output/Variables hold the in-memory forms
	headEnc                        headCache // parts of doc's head kept encoded (encode.go)
	encBuf                         []byte    // room to encode a head or a task record in (encode.go)
	inStored, outStored, varStored []byte
	tasks                          []*taskRecord
	byRef                          map[string]*taskRecord // exact ref (with __N) → latest attempt
	inputOverride                  map[string][]byte      // rerun: a task's replacement input, by exact ref (rerun.go)
	keptInput                      map[string][]byte      // rerun: the rerun task's previous input, by exact ref (rerun.go)
	keptID                         map[string]string      // rerun: the rerun task's id, by exact ref, until it is scheduled again
	keptChild                      map[string]string      // rerun: the new child of a SUB_WORKFLOW task rerun in place, by task id (subworkflowchild.go)
	keptSibs                       map[string][]byte      // rerun: the records reset in place that run with their stored input, by task id: a SUB_WORKFLOW's child input, nil for the record's own (rerun.go)
	keptLoops                      map[string][]int       // rerun: the COMPLETED DO_WHILEs holding the rerun task, by task id: the iterations whose rest runs again, ascending (rerun.go)
	reopenFailure                  string                 // a re-opened parent's kept failed task (reopen.go)
	reopenKept                     map[string]bool        // a re-opened parent's failed tasks kept as they are, by id (reopen.go)
	retryAsked                     map[string]bool        // ended attempts a retry asked to run again, by id (resume.go)
	subPins                        map[string]int         // the versions its start pinned sub-workflow names to (subpin.go)
	latest                         map[string]*taskRecord // ref without __N → latest attempt of any iteration
	refIdx                         map[string]int         // the run store's reference index as this process wrote it (refindex.go)
	refStale                       map[string]struct{}    // its entries that name a record forgotten since (refindex.go)
	caseChecks                     map[string]*caseCheck  // SWITCH/DECISION inputs and cases mapperThrows resolved, by exact ref (mapperthrow.go)
	wfDoc                          []byte                 // cached Workflow() document
	// failureRun is the failure run the output names, kept as written
	// when the output is masked again (setFailureOutput, failure.go).
	failureRun string
	// taskDefSnap is the task definitions the run applies, by name
	// (taskdefsnap.go): replaced whole, never changed in place, as the
	// dynamic tasks the run maps add theirs (holdMapped, under mapMu).
	taskDefSnap atomic.Pointer[map[string]*TaskDef]
	// mappedSnap is what mappings took that differs from taskDefSnap's
	// definition of the name (taskdefsnap.go), replaced whole too; nil:
	// nothing differs.
	mappedSnap atomic.Pointer[mappedDefs]
	mapMu      sync.Mutex
	// maskedAt is the masker size when the stored forms were last masked:
	// a value registered later (a `_secrets` leaf read from the workflow
	// input, say) is masked retroactively in everything stored before.
	maskedAt int
	// inPlain, for a SUB_WORKFLOW child, is its input with the values its
	// parent's task resolved (secrets.go): what its expressions read, where
	// doc.Input masks them. nil when the two are the same.
	inPlain []byte
	// rx indexes the stored forms, so that a value registered later masks
	// again only those it may be in (remask.go).
	rx remaskIndex
	// logsMaskedAt is the masker's size when the run's stored task logs
	// were last masked (tasklog.go).
	logsMaskedAt int
	// logIdx indexes the stored task log lines (tasklog.go); guarded by
	// saveMu.
	logIdx taskLogIndex
	// pending external completions (signals), by exact ref
	pending map[string]signal
	// queued: the updates of a task that came after its pending one, in
	// the order they were stored (pendLocked; takePending moves the next
	// one up).
	queued map[string][]signal
	// taken is closed (and dropped) when takeSignals moves signals into
	// pending: runChild waits on it (signalsTaken).
	taken chan struct{}
	// takeMu makes takeSignals one at a time: when it returns, every
	// signal taken from the store until then is in pending.
	takeMu sync.Mutex
	// What the next write carries (see changeLocked): task records and
	// workflow members changed since the last write. stored is false until
	// the first write of this process has created the record in full.
	dirty []*taskRecord
	// oneChange is write's change of one record (writeChangeLocked).
	oneChange                          changeOfOne
	changedIn, changedVars, changedOut bool
	// partDigests are the digests of the parts PartsSeal attests (its
	// input, variables and outcome), those partsKnown says hold as the
	// last write stored them; sealedOutcome is the status and reason the
	// outcome's is of (recordseal.go).
	partDigests                   [numParts][sha256.Size]byte
	partsKnown                    [numParts]bool
	sealedOutcome                 outcomeKey
	changedTaskDefs, changedMocks bool
	stored                        bool
	tagged                        bool  // the run store keeps the run's tag (tasklook.go)
	deleted                       []int // seqs of records forgotten (keepLastN)
	// resumed: the run was loaded from the store (not started here).
	resumed bool
	// archived: archive stored this run in its archived form (guarded by
	// mu, set with saveMu held). Every later write is dropped (write): the
	// store's Commit would create a primary record again from what the
	// write carries — its head and the records changed since, no input, no
	// other task — which Load then returns instead of the archive, with
	// the `_secrets` those records hold stored sealed again after the
	// archive rewrote them to "***" for good. A run reopened (restart,
	// retry, rerun, a child's retry) is a runState loaded afresh from the
	// archive (loadDoc) and brought back by restore.
	archived bool
	// archivedOutside: a write or the archive of this run was refused
	// because the store holds its archive (runstore.ErrArchived): another
	// process ended the run while this one held it (it lost the run's
	// lease to it, or changed it from outside). archived is set with it.
	// The run is not executed further, and not archived or ended again
	// here: the archive is its end (endedOutside). stopExec ends the
	// execution this process runs (execute sets it), guarded by mu.
	archivedOutside bool
	stopExec        context.CancelCauseFunc
	// lease is held while this process executes the run (lease.go).
	lease leaseState
	// leaseGen: the engine's outsideGen when this process took the run's
	// lease (0: not known), guarded by mu (leasewindow.go).
	leaseGen uint64
	// rootCtx is the context execute was called with: when it is still
	// live but a task's context ended, the run itself is ending early.
	rootCtx context.Context
	// joinOn is what each JOIN (exact ref) waits on when its fork computed
	// it (FORK_JOIN_DYNAMIC).
	joinOn map[string][]string
	// unpaused is closed (and replaced) when a PAUSED run resumes.
	unpaused chan struct{}
	// runCtx is the context execute runs the task list with: ended when
	// the run ends early (a termination, a lost lease, a timeout, an
	// interruption). vis is the run's part of the early writes of running
	// tasks (visible.go).
	runCtx context.Context
	vis    visState
	// test holds the mocks of a test run (mock.go); nil otherwise.
	test *testRun
	// side: SUB_WORKFLOW records re-opened while this process executes
	// the run (reopen_executing.go).
	side reopenSide
	// log is what the run's log holds and what its next entry carries
	// (runlog.go).
	log runLog
	// decision: forks whose first decision is being recorded; the run is
	// written when the last one closes (forkdecision.go).
	decision forkDecision
}

// signal is an external completion, or a re-open order
// (reopen_executing.go). Its output and reason are written sealed
// (SealedOutput, runsecrets.SealCompletion; SealedReason,
// SealCompletionReason: signalseal.go) and opened by the runner.
type signal struct {
	Status       string          `json:"status"`
	Output       json.RawMessage `json:"output,omitempty"`
	SealedOutput string          `json:"sealedOutput,omitempty"`
	// Reason is in clear only in memory, once opened, or in a signal
	// stored by an older wfrun (read, and masked where used, as before).
	Reason       string `json:"reason,omitempty"`
	SealedReason string `json:"sealedReason,omitempty"`
	// EmptyReason: the update gave the empty reason (Conductor's "", not
	// null); a signal stored without it gave none.
	EmptyReason bool `json:"emptyReason,omitempty"`
	// MergeOutput: an update by reference (IN_PROGRESS or final) or a
	// signal of a task waiting for its completion from outside, whose
	// output is the task's with the update's members over it (Conductor's
	// TaskResult made from the pending task, its outputData putAll the
	// update's).
	MergeOutput bool `json:"mergeOutput,omitempty"`
	// Answer, for an update IN_PROGRESS, names the slot the runner
	// answers in once it stored the update (answerSlot; CompleteTaskStored).
	Answer string `json:"answer,omitempty"`
	TaskID string `json:"taskId,omitempty"` // only for this attempt (CompleteTaskAttempt)
	// The subWorkflowId and callbackAfterSeconds an update of a
	// SUB_WORKFLOW task sets, and whether it keeps the task's child in its
	// output too (by reference; subworkflow_update.go).
	KeepChild     bool   `json:"keepChild,omitempty"`
	SubWorkflowID string `json:"subWorkflowId,omitempty"`
	Callback      int64  `json:"callbackAfterSeconds,omitempty"`
	opened        bool   // Output was opened from SealedOutput (takeSignals)
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// newID returns a random UUID-shaped id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuidString(b)
}

// uuidString writes b in the 8-4-4-4-12 hex form of a UUID.
func uuidString(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	hex.Encode(s[9:13], b[4:6])
	hex.Encode(s[14:18], b[6:8])
	hex.Encode(s[19:23], b[8:10])
	hex.Encode(s[24:36], b[10:16])
	s[8], s[13], s[18], s[23] = '-', '-', '-', '-'
	return string(s[:])
}

func defHash(raw []byte) string {
	s := sha256.Sum256(raw)
	return hex.EncodeToString(s[:])
}

// summary is what List shows.
func (r *runState) summaryLocked() runstore.Summary {
	s := runstore.Summary{
		ID: r.id, WorkflowType: r.doc.WorkflowType, Version: r.doc.Version, Status: r.doc.Status,
		CreateTime: r.doc.CreateTime, UpdateTime: r.doc.UpdateTime, ParentID: r.doc.ParentWorkflowID,
		Correlated: true, Principal: r.doc.Principal.Name,
	}
	if c := r.doc.CorrelationID; c != "" {
		// As Show displays it: a search answers from summaries.
		s.CorrelationID = r.sec.Text(c)
	}
	return s
}

func orEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// save writes what changed since the previous write, synchronously (one
// commit): the durable points of a run are its creation, each task attempt
// that ended, a task that starts waiting for an external completion, a
// sub-workflow's child id, and the end (archive). Transitions in between
// (SCHEDULED, IN_PROGRESS, a DO_WHILE's iteration count) only mark the
// record changed and travel with the next write — or with an early write
// when a task keeps running (visible.go); see the package comment for what
// a crash at each point replays.
func (r *runState) save(ctx context.Context) error {
	return r.write(ctx, persistDeadline, nil)
}

// write is save with a deadline of its own and, when only is not nil, a
// condition checked with saveMu and r.mu held: false skips the write. A
// conditional write (visible.go's) never takes the run's lease.
//
// While a fork's decision is open the write is made when it closes
// (forkdecision.go) — unless its outcome is reported outside the run
// (withReportedWrite): then it waits for the decision to close, within
// deadline, and is made, so nobody is told of a write that was not.
func (r *runState) write(ctx context.Context, deadline time.Duration, only func() bool) error {
	if err := r.lockForWrite(ctx, deadline, only); err != nil {
		if err == errWriteSkipped {
			err = nil
		}
		return err
	}
	defer r.saveMu.Unlock()
	if r.archived {
		// A late writer (a skip, an update, a poll, a pause taken as the
		// run went to its end): the archive holds the run as it ended
		// and is its last write. What the writer changed in memory is
		// not stored, and the write answers nil, as an answer for an
		// ended run does (RemoteTask.Stored): it changes nothing.
		r.mu.Unlock()
		return nil
	}
	r.doc.UpdateTime = r.nowMillis()
	ch, err := r.changeLocked(false, r.doc.UpdateTime)
	var gen uint64
	if err == nil && !r.lease.held && only == nil {
		l := r.e.newLease()
		ch.Lease, ch.LeaseTTL = &l, r.e.leaseTTL
		gen = r.e.outsideGen() // leasewindow.go
	}
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode run %s: %w", r.id, err)
	}
	// A cancelled run context must not stop the final writes of a run that
	// is being interrupted: persistence uses its own short deadline.
	sctx := newPersistCtx(ctx, deadline)
	defer sctx.stop()
	if err := r.e.runs.Commit(sctx, r.id, ch); err != nil {
		r.mu.Lock()
		r.markChangedLocked(ch)
		archived := errors.Is(err, runstore.ErrArchived)
		stop := r.stopExec
		if archived {
			r.archived, r.archivedOutside = true, true
		}
		r.mu.Unlock()
		if archived {
			// The run ended in another process: nothing of this
			// write is stored, and what this process executes of it
			// stops (execute answers with the stored end).
			if stop != nil {
				stop(errArchivedOutside)
			}
			return fmt.Errorf("save run %s: %w: %w", r.id, ErrNotRunning, runstore.ErrArchived)
		}
		return fmt.Errorf("save run %s: %w", r.id, err)
	}
	r.mu.Lock()
	r.stored = true
	r.tagged = r.tagged || ch.RunTag != ""
	r.vis.saves++
	if ch.Lease != nil {
		r.lease.held, r.leaseGen = true, gen
	}
	r.mu.Unlock()
	if f := r.e.written; f != nil {
		f(r.id)
	}
	r.remaskTaskLogsIfGrown(sctx)
	return nil
}

// remaskTaskLogsIfGrown masks the run's stored task logs again when its
// masker grew since they were last masked. Called with saveMu held. A
// failure is tried again at the next write (the lines stay sealed).
func (r *runState) remaskTaskLogsIfGrown(ctx context.Context) {
	r.remaskTaskLogsPass(ctx, false)
}

// remaskTaskLogsPass is remaskTaskLogsIfGrown that, when always, makes the
// pass even though the masker did not grow: lines appended since the last
// pass — by another process, or here while values were registered — are
// masked with every value. Called with saveMu held.
func (r *runState) remaskTaskLogsPass(ctx context.Context, always bool) {
	g := r.sec.Generation()
	if g == r.logsMaskedAt && !always {
		return
	}
	if r.remaskTaskLogs(ctx, r.logsMaskedAt) == nil {
		r.logsMaskedAt = g
	}
}

// archive moves the terminal run to the archive in its archived form.
func (r *runState) archive(ctx context.Context) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	if r.archived {
		// Archived already (another process did: archivedOutside):
		// that archive is the run's end.
		r.mu.Unlock()
		return nil
	}
	r.doc.UpdateTime = r.nowMillis()
	r.doc.RunLogLength, r.doc.RunLogSeal, r.doc.SealedInput, r.doc.RerunTask, r.doc.ReopenFailure = 0, "", "", "", "" // an archived run is never resumed
	doc, err := r.encodeLocked(r.doc.UpdateTime)
	sum := r.summaryLocked()
	head, taskDefs := r.doc.runHead, r.doc.TaskDefs
	r.mu.Unlock()
	if err != nil {
		return err
	}
	// The start request's head members, kept as given while the run is
	// stored, are masked for good, and so is a value the definition holds
	// written out (pasted in place of a reference): headview.go.
	if doc, err = maskRunCopies(doc, r.sec, true, true); err != nil {
		return err
	}
	// Its task definitions likewise (taskdefarchive.go).
	if doc, err = maskArchivedTaskDefs(doc, taskDefs, r.sec); err != nil {
		return err
	}
	if doc, err = resealMaskedRequest(doc, &head, r.sec); err != nil {
		return err
	}
	archived, err := r.sec.Archive(doc)
	if err != nil {
		return err
	}
	// Its records as archived, sealed again (recordseal.go).
	if archived, err = resealRecords(archived, r.sec); err != nil {
		return err
	}
	sctx := newPersistCtx(ctx, persistDeadline)
	defer sctx.stop()
	if err := r.e.runs.Archive(sctx, r.id, archived, sum); err != nil {
		if errors.Is(err, runstore.ErrArchived) {
			// Another process ended and archived the run while this one
			// held it, and this process wrote nothing of it since (a
			// write would have found it archived): that archive is the
			// run's end, kept as it is (finish answers it).
			r.mu.Lock()
			r.archived, r.archivedOutside = true, true
			r.mu.Unlock()
			return nil
		}
		return fmt.Errorf("archive run %s: %w", r.id, err)
	}
	r.mu.Lock()
	r.archived = true // no write follows (write)
	r.mu.Unlock()
	// The last pass: also over the lines appended since the previous one,
	// whatever masker they were masked with.
	r.remaskTaskLogsPass(sctx, true)
	return nil
}

// errArchivedOutside is the cause a run's execution ends with when a write
// of it found the run archived by another process (write).
var errArchivedOutside = fmt.Errorf("run ended in another process: %w", runstore.ErrArchived)

// endedOutside reports whether another process ended and archived the
// run while this one held it (archivedOutside).
func (r *runState) endedOutside() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.archivedOutside
}

// outsideEnd is what an execution of a run another process ended answers:
// the end that process stored (as when the run had ended before it was
// executed here, takeStoredState). The lease this process may hold again
// (renewed after the archive removed it) is let go.
func (r *runState) outsideEnd(ctx context.Context) (*Result, error) {
	r.releaseLease(ctx)
	res, err := r.e.resultOf(ctx, r.id)
	if err != nil {
		return nil, fmt.Errorf("run %s ended in another process: %w", r.id, err)
	}
	return res, nil
}

// addTask appends a record (a new attempt or a new task). Callers hold r.mu.
func (r *runState) addTaskLocked(t *taskRecord) {
	r.doc.NextSeq++
	t.Seq = r.doc.NextSeq
	if t.TaskID == "" {
		if r.keptID != nil && !r.heldByRecordLocked(t.Ref) {
			t.TaskID = r.takeKeptIDLocked(t.Ref) // rerun.go
		}
		if t.TaskID == "" {
			t.TaskID = taskIDAtTag(t.Seq, r.tag) // tasklook.go
		}
	}
	t.BaseRef = baseRef(t.Ref)
	r.tasks = append(r.tasks, t)
	r.byRef[t.Ref] = t
	r.latest[t.BaseRef] = t
	r.touchLocked(t)
	if r.onRecord != nil {
		r.onRecord() // loopbeside.go
	}
}

func baseRef(ref string) string {
	if i := strings.Index(ref, "__"); i > 0 && iterSuffix.MatchString(ref) {
		return iterSuffix.ReplaceAllString(ref, "")
	}
	return ref
}

// lookup returns the latest attempt for an exact ref.
func (r *runState) lookup(ref string) *taskRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byRef[ref]
}

// setTaskData stores a record's input and output (masked + sealed forms;
// nil: left as it is).
func (r *runState) setTaskData(t *taskRecord, input, output []byte) error {
	f, err := r.protectTaskData(t.TaskID, input, output)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setFormsLocked(t, f)
	r.touchLocked(t)
	return nil
}

// taskForms are a record's input and output as protectTaskData made them,
// and the masker's size they are masked with at least.
type taskForms struct {
	in, out                            bool // set
	inMem, inStored, outMem, outStored []byte
	gen                                int
}

// protectTaskData makes the masked and sealed forms of the input and
// output (nil: none) of the record of task id taskID.
func (r *runState) protectTaskData(taskID string, input, output []byte) (f taskForms, err error) {
	f.gen = r.sec.Generation()
	if input != nil {
		f.in = true
		if f.inMem, f.inStored, err = r.sec.Protect(input, "/tasks/"+taskID+"/inputData"); err != nil {
			return taskForms{}, err
		}
	}
	if output != nil {
		f.out = true
		if f.outMem, f.outStored, err = r.sec.Protect(output, "/tasks/"+taskID+"/outputData"); err != nil {
			return taskForms{}, err
		}
	}
	return f, nil
}

// setFormsLocked gives t the forms f holds. Callers hold r.mu (and touch
// t).
func (r *runState) setFormsLocked(t *taskRecord, f taskForms) {
	r.rx.producedLocked(f.gen)
	if f.in {
		t.inMem, t.inStored = f.inMem, f.inStored
	}
	if f.out {
		t.outMem, t.outStored = f.outMem, f.outStored
	}
}

// setResolvedInput is setTaskData for an input begin resolved from the
// task's template: valid JSON by construction, so it is masked and sealed
// without being validated again (runsecrets.ProtectResolved).
func (r *runState) setResolvedInput(t *taskRecord, input []byte) error {
	gen := r.sec.Generation()
	inMem, inSt, err := r.sec.ProtectResolved(input, "/tasks/"+t.TaskID+"/inputData")
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.rx.producedLocked(gen)
	t.inMem, t.inStored = inMem, inSt
	r.touchLocked(t)
	r.mu.Unlock()
	return nil
}

// transition changes a record's status. An attempt that ended is written at
// once (save); SCHEDULED and IN_PROGRESS travel with the next write.
func (r *runState) transition(ctx context.Context, t *taskRecord, status, reason string) error {
	return r.transitionReason(ctx, t, status, reason, false)
}

// transitionReason is transition with empty saying whether an empty
// reason is the empty text given as such (Conductor's "") rather than
// none (null).
func (r *runState) transitionReason(ctx context.Context, t *taskRecord, status, reason string, empty bool) error {
	// A reason quotes errors, remote bodies and outputs, masked and cut
	// when it was made: masked again with every value known now (a head
	// of one at a cut too), and noted as masked at gen, as the forms are.
	gen := r.sec.Generation()
	reason = r.sec.RemaskText(reason, 0)
	r.mu.Lock()
	r.rx.producedLocked(gen)
	t.Status = status
	if reason == "" && t.heldReason && (status == TaskScheduled || (status == TaskInProgress && t.TaskType != TypeSubWorkflow)) {
		reason = t.Reason // kept until the task's next update
	} else {
		t.heldReason = false
	}
	t.Reason, t.EmptyReasonAt = reason, ""
	if empty && reason == "" {
		t.EmptyReasonAt = status
	}
	switch status {
	case TaskInProgress:
		if t.Start == 0 && !t.noStart {
			t.Start = r.nowMillis()
		}
	case TaskScheduled:
	default:
		t.End = r.nowMillis()
		r.rerunAttemptEndedLocked(t) // rerun.go
	}
	r.touchLocked(t)
	answered := t.answered != nil
	r.mu.Unlock()
	if ev := (Event{Kind: EventTask, TaskRef: t.Ref, TaskType: t.TaskType, TaskID: t.TaskID, Status: status, Reason: reason}); !holdEvent(ctx, ev) {
		r.emit(ev) // held: eventhold.go
	}
	if status == TaskScheduled || status == TaskInProgress {
		return nil
	}
	if answered {
		// A worker waits for this write's outcome (remote_stored.go): it
		// is not deferred to an open fork decision's close.
		ctx = withReportedWrite(ctx)
	}
	err := r.save(ctx)
	if answered {
		r.answerStored(t, err)
	}
	return err
}

func (r *runState) emit(ev Event) {
	if r.events == nil {
		return
	}
	ev.RunID = r.id
	ev.WorkflowType = r.doc.WorkflowType
	ev.Time = time.Now()
	ev.Reason = r.sec.Text(ev.Reason)
	r.events(ev)
}
