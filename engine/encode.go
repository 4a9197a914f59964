package engine

import (
	"maps"
	"slices"
	"strconv"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/jsonenc"
)

// The persisted parts and the expression-environment documents are spliced
// together from pre-encoded parts: the JSON sub-documents (inputs, outputs,
// the definition) are already valid compact JSON and re-validating them
// through json.Marshal of json.RawMessage fields dominated the cost of a
// save. Each task record caches its encoded form until it changes, and a
// write carries only what changed (changeLocked): the run's head, the task
// records touched since the previous write, the workflow members that were
// set, the task definitions the run keeps when it takes them, and the
// definition once.

type runHead struct {
	WorkflowID            string `json:"workflowId"`
	WorkflowType          string `json:"workflowType"`
	Version               int    `json:"version"`
	Status                string `json:"status"`
	CorrelationID         string `json:"correlationId,omitempty"`
	ReasonForIncompletion string `json:"reasonForIncompletion,omitempty"`
	FailedTaskID          string `json:"failedTaskId,omitempty"`
	CreateTime            int64  `json:"createTime"`
	UpdateTime            int64  `json:"updateTime"`
	EndTime               int64  `json:"endTime,omitempty"`
	// LastRetriedTime is when the run was last retried: its workflow
	// timeout counts from there (Conductor's lastRetriedTime).
	LastRetriedTime      int64     `json:"lastRetriedTime,omitempty"`
	ParentWorkflowID     string    `json:"parentWorkflowId,omitempty"`
	ParentWorkflowTaskID string    `json:"parentWorkflowTaskId,omitempty"`
	SchemaVersion        int       `json:"schemaVersion"`
	MaskedFields         []string  `json:"maskedFields,omitempty"`
	DefinitionHash       string    `json:"definitionHash"`
	DefinitionPath       string    `json:"definitionPath,omitempty"`
	Principal            Principal `json:"principal"`
	Project              string    `json:"project,omitempty"`
	Environment          string    `json:"environment,omitempty"`
	// RecordSeals says that every task record of the run carries its
	// recordSeal (recordseal.go): attested with the members above, so it
	// is not dropped from a run whose records are sealed. A run an earlier
	// wfrun stored has none, until its next write seals every record.
	RecordSeals bool `json:"recordSeals,omitempty"`
	// VariablesSealed says that VariablesSeal attests the run's variables
	// (recordseal.go): attested with the members above, as RecordSeals.
	VariablesSealed bool `json:"variablesSealed,omitempty"`
	// OutcomeSealed says that OutcomeSeal attests the run's status,
	// reasonForIncompletion and output (recordseal.go): attested with the
	// members above, as RecordSeals.
	OutcomeSealed bool `json:"outcomeSealed,omitempty"`
	// InputSealed says that InputSeal attests the run's stored input
	// (recordseal.go): attested with the members above, as RecordSeals.
	InputSealed bool `json:"inputSealed,omitempty"`
	// PartsSealed says that PartsSeal attests the run's stored input,
	// variables, status, reasonForIncompletion and output together
	// (recordseal.go), in place of the three seals above, which a run
	// sealed so no longer carries: attested with the members above, as
	// RecordSeals.
	PartsSealed bool `json:"partsSealed,omitempty"`
	// RequestSealed says that HeadSeal attests the start request's members
	// too (Priority, TaskToDomain, IdempotencyKey, Test; headRequest):
	// attested with the members above, as RecordSeals. A run an earlier
	// wfrun stored has it not, until its next write here.
	RequestSealed bool `json:"requestSealed,omitempty"`
	// FailuresSealed says that HeadSeal attests FailureOf and
	// RestartedFailures too (headFailures): attested with the members
	// above, as RecordSeals. A run an earlier wfrun stored has it not,
	// until its next write here.
	FailuresSealed bool `json:"failuresSealed,omitempty"`
	NextSeq        int  `json:"nextSeq"`
	// RunLogLength is how many entries the run's log holds (runlog.go):
	// the journal of the values it registered and how far its mocks got,
	// appended to rather than rewritten with each write.
	RunLogLength int `json:"runLogLength,omitempty"`
	// RunLogSeal is RunLogLength sealed to the run, as an earlier wfrun
	// wrote it with every head (runlog.go): checked when present, dropped
	// at the run's next write here, where HeadSeal attests the count.
	RunLogSeal string `json:"runLogSeal,omitempty"`
	// HeadSeal attests, bound to the run (headseal.go), the members that
	// say what the run is and may read (appendHeadStatic's: its parent,
	// definition hash, principal and scopes, project, environment) and
	// RunLogLength: a head whose members were edited, or copied from
	// another run, does not load.
	HeadSeal string `json:"headSeal,omitempty"`
	// SealedInput is, for a SUB_WORKFLOW child, its in-memory input sealed
	// (runsecrets.Run.Seal): the visible input keeps the parent's secret
	// references, and a resumed child reads its input from here.
	SealedInput string `json:"sealedInput,omitempty"`
	// RerunTask is, until the attempt of the task a rerun starts from
	// ends (a SUB_WORKFLOW task rerun in place: until it names its new
	// child), what the rerun keeps of it (its id, its input, the child's
	// id), sealed (rerun.go): a run resumed after a crash keeps them too.
	// It names the records the rerun reset in place that run with their
	// stored input, which those records hold (a SUB_WORKFLOW's child
	// input excepted): every save writes the head.
	RerunTask string `json:"rerunTask,omitempty"`
	// ReopenFailure is, for a parent a child's retry re-opened, the id of
	// the failed task that fails it again at its first step, sealed
	// (reopen.go).
	ReopenFailure string `json:"reopenFailure,omitempty"`
	// FailureOf is, for a failureWorkflow's run until it first executes,
	// the id of the run whose end started it (failure.go): it executes
	// only once that end is stored, naming it.
	FailureOf string `json:"failureOf,omitempty"`
	// RestartedFailures names, space-separated, the failure runs that
	// stored ends of this run named before a restart, retry or rerun
	// replaced them (reopenHeadLocked; at most maxRestartedFailures, the
	// latest last): such an end was stored, so its failure run's gate
	// lets it execute, as Conductor's failure workflow runs whatever
	// becomes of the failed run since.
	RestartedFailures string `json:"restartedFailures,omitempty"`
	// VariablesSeal attests the run's stored variables, bound to the run
	// (recordseal.go): written with every head, made again when they
	// change.
	VariablesSeal string `json:"variablesSeal,omitempty"`
	// OutcomeSeal attests the run's status, reasonForIncompletion and
	// stored output, bound to the run (recordseal.go): written with every
	// head, made again when one of them changes.
	OutcomeSeal string `json:"outcomeSeal,omitempty"`
	// InputSeal attests the run's stored input, bound to the run
	// (recordseal.go): written with every head, made again when it
	// changes (a rerun's workflowInput).
	InputSeal string `json:"inputSeal,omitempty"`
	// PartsSeal attests, bound to the run (recordseal.go), the digests of
	// the run's stored input, variables and outcome (status,
	// reasonForIncompletion and output): written with every head, made
	// again when one of them changes.
	PartsSeal string `json:"partsSeal,omitempty"`
	// Priority (0-99), TaskToDomain and IdempotencyKey are the start
	// request's (Conductor's Workflow members; domains.go, idempotency.go).
	Priority       int               `json:"priority,omitempty"`
	TaskToDomain   map[string]string `json:"taskToDomain,omitempty"`
	IdempotencyKey string            `json:"idempotencyKey,omitempty"`
	// Test marks a test run (mock.go): its mocks are the part "testMocks",
	// and MocksUsed is how many mocks of each task reference it has taken
	// (kept in the run's log, runlog.go, not in the head).
	Test      bool           `json:"test,omitempty"`
	MocksUsed map[string]int `json:"-"`
}

type taskHead struct {
	TaskID            string `json:"taskId"`
	ReferenceTaskName string `json:"referenceTaskName"`
	TaskType          string `json:"taskType"`
	TaskDefName       string `json:"taskDefName"`
	Status            string `json:"status"`
	RetryCount        int    `json:"retryCount"`
	Iteration         int    `json:"iteration"`
	Seq               int    `json:"seq"`
	// Reason is nil when the record has none (Conductor's null), and ""
	// when an update gave it the empty text.
	Reason             *string `json:"reasonForIncompletion,omitempty"`
	ScheduledTime      int64   `json:"scheduledTime"`
	StartTime          int64   `json:"startTime"`
	EndTime            int64   `json:"endTime"`
	WorkflowInstanceID string  `json:"workflowInstanceId"`
	WaitUntil          int64   `json:"waitUntil,omitempty"`
	Awaiting           bool    `json:"awaitingCompletion,omitempty"`
	Callback           int64   `json:"callbackAfterSeconds,omitempty"`
	Postponed          int64   `json:"postponedUntil,omitempty"`
	StartDelay         *int64  `json:"startDelayInSeconds,omitempty"`
	SubWorkflowID      string  `json:"subWorkflowId,omitempty"`
	RetriedTaskID      string  `json:"retriedTaskId,omitempty"`
	Domain             string  `json:"domain,omitempty"`
	IsolationGroupID   string  `json:"isolationGroupId,omitempty"`
	ExecutionNameSpace string  `json:"executionNameSpace,omitempty"`
	// The definition's limits and response timeout, on the types
	// Conductor's mappers copy them to (isolation.go).
	RateLimitPerFrequency       int   `json:"rateLimitPerFrequency,omitempty"`
	RateLimitFrequencyInSeconds int   `json:"rateLimitFrequencyInSeconds,omitempty"`
	ResponseTimeoutSeconds      int64 `json:"responseTimeoutSeconds,omitempty"`
	// The worker that polled a remote task last and how many polls
	// handed it out (remote.go).
	WorkerID  string `json:"workerId,omitempty"`
	PollCount int    `json:"pollCount,omitempty"`
	// When the record last changed (Conductor's updateTime).
	UpdateTime int64 `json:"updateTime,omitempty"`
}

// The heads are written by hand rather than by json.Marshal: a save encodes
// the run's head and the changed task records every time, and reflection
// over these structs was most of that cost. The members and their order are
// the structs' tags (json.Marshal of the structs decodes to the same values;
// encode_internal_test.go checks it).

// appendRunHead appends h as an open JSON object (no closing brace).
func appendRunHead(b []byte, h *runHead) []byte {
	b = appendHeadStatic(appendHeadChanging(b, h), h)
	return appendHeadTail(appendHeadCounts(b, h), h)
}

// appendHeadChanging appends the head's members up to endTime: the ones a
// save usually changes (status, times).
func appendHeadChanging(b []byte, h *runHead) []byte {
	b = appendStrMember(append(b, '{'), "workflowId", h.WorkflowID, false)
	b = appendStrMember(b, "workflowType", h.WorkflowType, true)
	b = appendIntMember(b, "version", int64(h.Version))
	b = appendStrMember(b, "status", h.Status, true)
	b = appendOptStr(b, "correlationId", h.CorrelationID)
	b = appendOptStr(b, "reasonForIncompletion", h.ReasonForIncompletion)
	b = appendOptStr(b, "failedTaskId", h.FailedTaskID)
	b = appendIntMember(b, "createTime", h.CreateTime)
	b = appendIntMember(b, "updateTime", h.UpdateTime)
	if h.EndTime != 0 {
		b = appendIntMember(b, "endTime", h.EndTime)
	}
	if h.LastRetriedTime != 0 {
		b = appendIntMember(b, "lastRetriedTime", h.LastRetriedTime)
	}
	return b
}

// appendHeadStatic appends the members from parentWorkflowId to
// environment: set when the run starts and hardly ever changed (headCache
// keeps them encoded).
func appendHeadStatic(b []byte, h *runHead) []byte {
	b = appendOptStr(b, "parentWorkflowId", h.ParentWorkflowID)
	b = appendOptStr(b, "parentWorkflowTaskId", h.ParentWorkflowTaskID)
	b = appendIntMember(b, "schemaVersion", int64(h.SchemaVersion))
	if len(h.MaskedFields) > 0 {
		b = appendStrings(append(b, `,"maskedFields":`...), h.MaskedFields)
	}
	b = appendStrMember(b, "definitionHash", h.DefinitionHash, true)
	b = appendOptStr(b, "definitionPath", h.DefinitionPath)
	b = appendStrMember(append(b, `,"principal":{`...), "name", h.Principal.Name, false)
	if len(h.Principal.Scopes) > 0 {
		b = appendStrings(append(b, `,"scopes":`...), h.Principal.Scopes)
	}
	b = append(b, '}')
	b = appendOptStr(b, "project", h.Project)
	b = appendOptStr(b, "environment", h.Environment)
	if h.RecordSeals {
		b = append(b, `,"recordSeals":true`...)
	}
	if h.VariablesSealed {
		b = append(b, `,"variablesSealed":true`...)
	}
	if h.OutcomeSealed {
		b = append(b, `,"outcomeSealed":true`...)
	}
	if h.InputSealed {
		b = append(b, `,"inputSealed":true`...)
	}
	if h.PartsSealed {
		b = append(b, `,"partsSealed":true`...)
	}
	if h.RequestSealed {
		b = append(b, `,"requestSealed":true`...)
	}
	if h.FailuresSealed {
		b = append(b, `,"failuresSealed":true`...)
	}
	return b
}

// appendHeadCounts appends nextSeq, runLogLength, runLogSeal and headSeal.
func appendHeadCounts(b []byte, h *runHead) []byte {
	b = appendIntMember(b, "nextSeq", int64(h.NextSeq))
	if h.RunLogLength != 0 {
		b = appendIntMember(b, "runLogLength", int64(h.RunLogLength))
	}
	b = appendOptStr(b, "runLogSeal", h.RunLogSeal)
	return appendOptStr(b, "headSeal", h.HeadSeal)
}

// appendHeadTail appends the members after runLogSeal.
func appendHeadTail(b []byte, h *runHead) []byte {
	b = appendOptStr(b, "sealedInput", h.SealedInput)
	b = appendOptStr(b, "rerunTask", h.RerunTask)
	b = appendOptStr(b, "reopenFailure", h.ReopenFailure)
	b = appendOptStr(b, "failureOf", h.FailureOf)
	b = appendOptStr(b, "restartedFailures", h.RestartedFailures)
	b = appendOptStr(b, "variablesSeal", h.VariablesSeal)
	b = appendOptStr(b, "outcomeSeal", h.OutcomeSeal)
	b = appendOptStr(b, "inputSeal", h.InputSeal)
	b = appendOptStr(b, "partsSeal", h.PartsSeal)
	return appendHeadRequest(b, h)
}

// appendHeadRequest appends the members the run's start request set:
// priority, taskToDomain, idempotencyKey and test (the head's last).
func appendHeadRequest(b []byte, h *runHead) []byte {
	if h.Priority != 0 {
		b = appendIntMember(b, "priority", int64(h.Priority))
	}
	if len(h.TaskToDomain) > 0 {
		b = append(b, `,"taskToDomain":{`...)
		for i, k := range slices.Sorted(maps.Keys(h.TaskToDomain)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(jsonenc.AppendString(b, k), ':')
			b = jsonenc.AppendString(b, h.TaskToDomain[k])
		}
		b = append(b, '}')
	}
	b = appendOptStr(b, "idempotencyKey", h.IdempotencyKey)
	if h.Test {
		b = append(b, `,"test":true`...)
	}
	return b
}

// appendMocksUsed appends a test run's mock counts as the member
// "mocksUsed" (sorted by reference).
func appendMocksUsed(b []byte, used map[string]int) []byte {
	b = append(b, `,"mocksUsed":{`...)
	for i, k := range slices.Sorted(maps.Keys(used)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonenc.AppendString(b, k), ':')
		b = strconv.AppendInt(b, int64(used[k]), 10)
	}
	return append(b, '}')
}

// encodeRunHead is the run's head as a JSON object.
func encodeRunHead(h *runHead) []byte {
	return append(appendRunHead(make([]byte, 0, runHeadSize(h)), h), '}')
}

// runHeadSize is a capacity hint for an encoded head.
func runHeadSize(h *runHead) int {
	n := 360 + len(h.WorkflowType) + len(h.CorrelationID) + len(h.ReasonForIncompletion) + len(h.DefinitionPath) +
		len(h.Principal.Name) + len(h.Project) + len(h.Environment) + len(h.RunLogSeal) + len(h.HeadSeal) + len(h.SealedInput) + len(h.RerunTask) + len(h.ReopenFailure) + len(h.FailureOf) + len(h.RestartedFailures) + len(h.IdempotencyKey) + len(h.VariablesSeal) + len(h.OutcomeSeal) + len(h.InputSeal) + len(h.PartsSeal)
	for k, v := range h.TaskToDomain {
		n += len(k) + len(v) + 6
	}
	for _, f := range h.MaskedFields {
		n += len(f) + 3
	}
	for _, s := range h.Principal.Scopes {
		n += len(s) + 3
	}
	return n
}

// headCache keeps encoded the members of a run's head that every save
// writes but that rarely change (appendHeadStatic's). They are encoded
// again as soon as what they were encoded from differs. Callers hold r.mu.
type headCache struct {
	static    headStatic
	staticEnc []byte // nil: nothing cached
	// seal is HeadSeal for staticEnc and the log length sealLength.
	seal       string
	sealLength int
}

// headStatic is what appendHeadStatic reads, its slices copied.
type headStatic struct {
	parentID, parentTaskID string
	schemaVersion          int
	maskedFields           []string
	defHash, defPath       string
	principal              string
	scopes                 []string
	project, environment   string
	recordSeals, varsSeal  bool
	outcomeSeal, inputSeal bool
	partsSeal              bool
	// The start request's members, attested when requestSealed.
	requestSealed bool
	priority      int
	taskToDomain  map[string]string
	idempotency   string
	test          bool
	// A failure run's gate and a failed run's restarted failure runs,
	// attested when failuresSealed.
	failuresSealed               bool
	failureOf, restartedFailures string
}

func staticOf(h *runHead) headStatic {
	st := headStatic{h.ParentWorkflowID, h.ParentWorkflowTaskID, h.SchemaVersion, h.MaskedFields, h.DefinitionHash,
		h.DefinitionPath, h.Principal.Name, h.Principal.Scopes, h.Project, h.Environment, h.RecordSeals, h.VariablesSealed, h.OutcomeSealed, h.InputSealed, h.PartsSealed,
		h.RequestSealed, 0, nil, "", false, h.FailuresSealed, "", ""}
	if h.RequestSealed {
		st.priority, st.taskToDomain, st.idempotency, st.test = h.Priority, h.TaskToDomain, h.IdempotencyKey, h.Test
	}
	if h.FailuresSealed {
		st.failureOf, st.restartedFailures = h.FailureOf, h.RestartedFailures
	}
	return st
}

func (a *headStatic) equal(b *headStatic) bool {
	return a.parentID == b.parentID && a.parentTaskID == b.parentTaskID && a.schemaVersion == b.schemaVersion &&
		slices.Equal(a.maskedFields, b.maskedFields) && a.defHash == b.defHash && a.defPath == b.defPath &&
		a.principal == b.principal && slices.Equal(a.scopes, b.scopes) && a.project == b.project && a.environment == b.environment &&
		a.recordSeals == b.recordSeals && a.varsSeal == b.varsSeal && a.outcomeSeal == b.outcomeSeal &&
		a.inputSeal == b.inputSeal && a.partsSeal == b.partsSeal &&
		a.requestSealed == b.requestSealed && a.priority == b.priority && maps.Equal(a.taskToDomain, b.taskToDomain) &&
		a.idempotency == b.idempotency && a.test == b.test &&
		a.failuresSealed == b.failuresSealed && a.failureOf == b.failureOf && a.restartedFailures == b.restartedFailures
}

// encodeHeadLocked is encodeRunHead(&r.doc.runHead), reusing what headCache
// holds, with HeadSeal attesting the static members and the log length
// (attested again only when they change). Callers hold r.mu.
func (r *runState) encodeHeadLocked() ([]byte, error) {
	h, c := &r.doc.runHead, &r.headEnc
	if st := staticOf(h); c.staticEnc == nil || !c.static.equal(&st) {
		st.maskedFields, st.scopes, st.taskToDomain = slices.Clone(st.maskedFields), slices.Clone(st.scopes), maps.Clone(st.taskToDomain)
		c.static, c.staticEnc, c.seal = st, appendHeadStatic(nil, h), ""
	}
	if c.seal == "" || c.sealLength != h.RunLogLength {
		seal, err := r.sec.Attest(headSealPointer, headAttested(c.staticEnc, headSealedMembers(h), h.RunLogLength))
		if err != nil {
			return nil, err
		}
		c.seal, c.sealLength = seal, h.RunLogLength
	}
	h.HeadSeal = c.seal
	b := appendHeadChanging(r.scratchLocked(runHeadSize(h)), h)
	b = appendHeadCounts(append(b, c.staticEnc...), h)
	return r.exactLocked(append(appendHeadTail(b, h), '}')), nil
}

// maxScratch bounds the encoding buffer a run keeps between writes.
const maxScratch = 16 << 10

// scratchLocked returns the run's encoding buffer, empty, with room for n
// bytes. What is encoded in it leaves through exactLocked. Callers hold
// r.mu.
func (r *runState) scratchLocked(n int) []byte {
	if cap(r.encBuf) < n {
		return make([]byte, 0, n)
	}
	return r.encBuf[:0]
}

// exactLocked returns a copy of b of its exact size, and keeps b's array
// as the run's encoding buffer: an encoded head or task record is handed
// to the store (and kept by a store in memory) at the size it has, not at
// the capacity its encoding reserved. A record too large for the buffer is
// returned as it is. Callers hold r.mu.
func (r *runState) exactLocked(b []byte) []byte {
	if cap(b) > maxScratch {
		// Too large to keep: b is an array of its own (encBuf never
		// grows past maxScratch), handed over as it is, not copied.
		return b
	}
	out := make([]byte, len(b))
	copy(out, b)
	r.encBuf = b[:0]
	return out
}

// appendTaskHead appends t's scalar members (taskHead's) as an open JSON
// object.
func appendTaskHead(b []byte, t *taskRecord, runID string) []byte {
	b = appendStrMember(append(b, '{'), "taskId", t.TaskID, false)
	b = appendStrMember(b, "referenceTaskName", t.Ref, true)
	b = appendStrMember(b, "taskType", t.TaskType, true)
	b = appendStrMember(b, "taskDefName", t.TaskDefName, true)
	b = appendStrMember(b, "status", t.Status, true)
	b = appendIntMember(b, "retryCount", int64(t.RetryCount))
	b = appendIntMember(b, "iteration", int64(t.Iteration))
	b = appendIntMember(b, "seq", int64(t.Seq))
	if t.emptyReason() {
		b = appendStrMember(b, "reasonForIncompletion", "", true) // given as "", not none
	} else {
		b = appendOptStr(b, "reasonForIncompletion", t.Reason)
	}
	b = appendIntMember(b, "scheduledTime", t.Scheduled)
	b = appendIntMember(b, "startTime", t.Start)
	b = appendIntMember(b, "endTime", t.End)
	b = appendStrMember(b, "workflowInstanceId", runID, true)
	if t.WaitUntil != 0 {
		b = appendIntMember(b, "waitUntil", t.WaitUntil)
	}
	if t.Awaiting {
		b = append(b, `,"awaitingCompletion":true`...)
	}
	if t.Callback != 0 {
		b = appendIntMember(b, "callbackAfterSeconds", t.Callback)
	}
	if t.Postponed != 0 {
		b = appendIntMember(b, "postponedUntil", t.Postponed)
	}
	if t.StartDelay != 0 || t.ZeroDelay {
		b = appendIntMember(b, "startDelayInSeconds", t.StartDelay)
	}
	b = appendOptStr(b, "subWorkflowId", t.SubWorkflowID)
	b = appendOptStr(b, "retriedTaskId", t.RetriedTaskID)
	b = appendOptStr(b, "domain", t.Domain)
	b = appendOptStr(b, "isolationGroupId", t.IsolationGroupID)
	b = appendOptStr(b, "executionNameSpace", t.ExecutionNameSpace)
	if t.RateLimitPerFrequency != 0 {
		b = appendIntMember(b, "rateLimitPerFrequency", int64(t.RateLimitPerFrequency))
	}
	if t.RateLimitFrequencyInSeconds != 0 {
		b = appendIntMember(b, "rateLimitFrequencyInSeconds", int64(t.RateLimitFrequencyInSeconds))
	}
	if t.ResponseTimeoutSeconds != 0 {
		b = appendIntMember(b, "responseTimeoutSeconds", t.ResponseTimeoutSeconds)
	}
	b = appendOptStr(b, "workerId", t.WorkerID)
	if t.PollCount != 0 {
		b = appendIntMember(b, "pollCount", int64(t.PollCount))
	}
	if t.Updated != 0 {
		b = appendIntMember(b, "updateTime", t.Updated)
	}
	return b
}

// taskHeadSize is a capacity hint for appendTaskHead.
func taskHeadSize(t *taskRecord, runID string) int {
	return 300 + len(t.TaskID) + len(t.Ref) + len(t.TaskType) + len(t.TaskDefName) + len(t.Status) + len(t.Reason) +
		len(runID) + len(t.SubWorkflowID) + len(t.RetriedTaskID) + len(t.Domain) +
		len(t.IsolationGroupID) + len(t.ExecutionNameSpace) + len(t.WorkerID)
}

func appendStrMember(b []byte, key, v string, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return jsonenc.AppendString(b, v)
}

func appendOptStr(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendStrMember(b, key, v, true)
}

func appendIntMember(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, s)
	}
	return append(b, ']')
}

func appendMember(dst []byte, key string, raw []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return append(dst, orEmpty(raw)...)
}

// encodeLocked renders the whole persisted document (archive, restart).
// Records changed since their last encoding are stamped at (0: the clock
// is read). Callers hold r.mu.
func (r *runState) encodeLocked(at int64) ([]byte, error) {
	r.remaskLocked()
	head, err := r.encodeHeadLocked()
	if err != nil {
		return nil, err
	}
	if len(r.doc.MocksUsed) > 0 {
		// Not in the run's log, which is not part of the whole document:
		// a retried or restarted test run goes on from these counts.
		head = append(appendMocksUsed(head[:len(head)-1:len(head)-1], r.doc.MocksUsed), '}')
	}
	encs := make([][]byte, len(r.tasks))
	for i, t := range r.tasks {
		if t.enc == nil {
			if t.enc, err = r.encodeTask(t, &at); err != nil {
				return nil, err
			}
		}
		encs[i] = t.enc
	}
	// The run's log is not part of it: what is encoded whole is never
	// resumed from (an archived run is restarted afresh).
	return runstore.Assemble(head, r.inStored, r.outStored, r.varStored, r.taskDefsPartLocked(), r.mocksPartLocked(), nil, encs, r.storedDefinitionLocked())
}

// changeLocked is what the next write carries: the head, the workflow
// members and task records that changed since the last write (all of them
// when full), and the definition on the run's first write. It clears the
// dirty marks; a failed write puts them back (markChanged). Callers hold
// r.mu. Records changed since their last encoding are stamped at (0: the
// clock is read).
func (r *runState) changeLocked(full bool, at int64) (_ *runstore.Change, err error) {
	r.remaskLocked()
	r.compactRemaskQueueLocked() // remask.go
	if full || !r.stored {
		// The record is written whole: its log too, from its start.
		r.resetLogLocked()
	}
	entries, err := r.appendLogLocked()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			// Not written: the next write carries the entries (the
			// head's count already counts them).
			r.log.pending = slices.Concat(entries, r.log.pending)
		}
	}()
	// From this write on, the head's seal attests the start request's
	// members too (headseal.go).
	r.doc.RequestSealed = true
	// And its failure members (headFailures).
	r.doc.FailuresSealed = true
	if !r.doc.RecordSeals {
		// The run's first write, or the first of a run an earlier wfrun
		// stored: every record is written, sealed (recordseal.go), and
		// the head says so from this write on.
		r.doc.RecordSeals = true
		for _, t := range r.tasks {
			if !t.forgotten {
				r.reencodeLocked(t)
			}
		}
	}
	// The input, variables and outcome this write stores, attested
	// together in the head (recordseal.go).
	if err := r.sealPartsLocked(full); err != nil {
		return nil, err
	}
	head, err := r.encodeHeadLocked()
	if err != nil {
		return nil, err
	}
	// Head and every task document are encoded afresh and never modified
	// afterwards (a change of a task drops its encoding: touchLocked), so
	// they are handed over to the store.
	var ch *runstore.Change
	if full {
		ch = newChange(len(r.dirty))
	} else {
		ch = r.writeChangeLocked(len(r.dirty))
	}
	ch.Summary, ch.Head, ch.HandOver, ch.Log = r.summaryLocked(), head, true, entries
	if full || !r.stored {
		r.changedIn, r.changedVars, r.changedOut = true, true, true
		for _, t := range r.tasks {
			r.touchLocked(t)
		}
		r.unindexAllLocked() // the record is written whole: its index too
		ch.DefinitionHash, ch.Definition = r.doc.DefinitionHash, r.storedDefinitionLocked()
		r.changedTaskDefs, r.changedMocks = true, true
	}
	if r.changedMocks {
		// Written with the record's first write only (mock.go).
		ch.Mocks = r.mocksPartLocked()
		r.changedMocks = false
	}
	if r.changedTaskDefs {
		// Written with the record's first write and when the run takes
		// other definitions, not with every write (taskdefsnap.go).
		ch.TaskDefs = r.taskDefsPartLocked()
		r.changedTaskDefs = false
	}
	if r.changedIn {
		ch.Input = orEmpty(r.inStored)
	}
	if r.changedVars {
		ch.Variables = orEmpty(r.varStored)
	}
	if r.changedOut {
		ch.Output = orEmpty(r.outStored)
	}
	r.changedIn, r.changedVars, r.changedOut = false, false, false
	ch.DeleteTasks, r.deleted = r.deleted, nil
	r.staleRefsLocked(ch) // refindex.go
	if !r.tagged || full || !r.stored {
		// The run's tag, which its task ids carry (tasklook.go): with
		// its first write, and the first this process makes of a run
		// it resumed (write sets tagged).
		ch.RunTag = runstore.RunTag(r.id)
	}
	keep := r.dirty[:0]
	for _, t := range r.dirty {
		if t.forgotten {
			t.dirty = false
			continue
		}
		if t.inStored == nil && t.Status == TaskScheduled {
			// Just scheduled, its input not set yet (begin): written with
			// its input by a later change, never shown without it.
			keep = append(keep, t)
			continue
		}
		if t.enc == nil {
			if t.enc, err = r.encodeTask(t, &at); err != nil {
				return nil, err
			}
		}
		t.dirty = false
		ch.Tasks = append(ch.Tasks, runstore.Task{Seq: t.Seq, Doc: t.enc})
		if !t.indexed {
			// Its first write: the store's reference index names it
			// (refindex.go).
			r.indexLocked(ch, t)
		}
	}
	clear(r.dirty[len(keep):])
	r.dirty = keep
	return ch, nil
}

// changeOfOne is a Change with room for one task record, allocated
// together: a sequential run's write carries the one task that ended.
type changeOfOne struct {
	ch   runstore.Change
	task [1]runstore.Task
	refs [2]runstore.RefEntry // a new record's reference index entries (refindex.go)
}

// writeChangeLocked is newChange for write, which holds saveMu from the
// change's making to its commit: a change of one record is the run's own
// (runState.oneChange), emptied, as no store keeps a Change past its
// Commit (they keep its members' bytes, never the Change or its slices).
func (r *runState) writeChangeLocked(n int) *runstore.Change {
	if n > 1 {
		return newChange(n)
	}
	c := &r.oneChange
	*c = changeOfOne{}
	c.ch.Tasks, c.ch.Refs = c.task[:0], c.refs[:0]
	return &c.ch
}

// newChange returns an empty Change whose Tasks have room for n records.
func newChange(n int) *runstore.Change {
	if n <= 1 {
		c := &changeOfOne{}
		c.ch.Tasks, c.ch.Refs = c.task[:0], c.refs[:0]
		return &c.ch
	}
	return &runstore.Change{Tasks: make([]runstore.Task, 0, n)}
}

// markChanged puts back the dirty marks of a change that was not written.
func (r *runState) markChangedLocked(ch *runstore.Change) {
	r.changedIn = r.changedIn || ch.Input != nil
	r.changedVars = r.changedVars || ch.Variables != nil
	r.changedOut = r.changedOut || ch.Output != nil
	r.changedTaskDefs = r.changedTaskDefs || ch.TaskDefs != nil
	r.changedMocks = r.changedMocks || ch.Mocks != nil
	r.log.pending = slices.Concat(ch.Log, r.log.pending)
	bySeq := make(map[int]*taskRecord, len(ch.Tasks))
	for _, t := range ch.Tasks {
		bySeq[t.Seq] = nil
	}
	for _, t := range r.tasks {
		if _, ok := bySeq[t.Seq]; ok && !t.dirty {
			t.dirty = true
			r.dirty = append(r.dirty, t)
		}
	}
	if ch.DefinitionHash != "" {
		r.stored = false
	}
	r.deleted = append(r.deleted, ch.DeleteTasks...)
	r.unindexLocked(ch.Refs)
}

// forgetLocked drops a task record from the run: expressions no longer see
// it and the next write deletes it. Callers hold r.mu and remove it from
// r.tasks.
func (r *runState) forgetLocked(t *taskRecord) {
	t.forgotten = true
	if r.byRef[t.Ref] == t {
		delete(r.byRef, t.Ref)
	}
	if r.latest[t.BaseRef] == t {
		delete(r.latest, t.BaseRef)
	}
	r.deleted = append(r.deleted, t.Seq)
	r.forgetRefLocked(t)
	r.rx.forget(t)
}

// touchLocked marks a task record changed: its cached encodings are dropped
// and the next write carries it. Callers hold r.mu.
func (r *runState) touchLocked(t *taskRecord) {
	t.unstamped = true
	r.reencodeLocked(t)
}

// stampLocked sets the update time of t, changed since it was last
// encoded (touchLocked), to *at, read from the clock at the first record
// that needs it: the records one write encodes share one reading.
// Callers hold r.mu.
func (r *runState) stampLocked(t *taskRecord, at *int64) {
	if !t.unstamped {
		return
	}
	if *at == 0 {
		*at = r.nowMillis()
	}
	t.Updated, t.unstamped = *at, false
}

// reencodeLocked is touchLocked without the update time: the record is
// written again as it is now (masked again, not changed by its task).
func (r *runState) reencodeLocked(t *taskRecord) {
	t.envDoc, t.headDoc, t.enc, t.outIdx = nil, nil, nil, nil
	if !t.dirty {
		t.dirty = true
		r.dirty = append(r.dirty, t)
	}
	r.rx.queueLocked(t)
}

func (r *runState) encodeTask(t *taskRecord, at *int64) ([]byte, error) {
	r.stampLocked(t, at)
	b := appendTaskHead(r.scratchLocked(taskHeadSize(t, r.id)+len(t.inStored)+len(t.outStored)+32+recordSealSize), t, r.id)
	b = appendMember(b, "inputData", t.inStored)
	b = appendMember(b, "outputData", t.outStored)
	b, err := r.sealRecord(b, t.Seq) // recordseal.go
	if err != nil {
		return nil, err
	}
	return r.exactLocked(b), nil
}
