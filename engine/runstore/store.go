package runstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrNotFound is returned by Load when no primary or archived run has the id.
var ErrNotFound = errors.New("run not found")

// ErrUnavailable wraps backend failures (file locked too long, Redis down).
var ErrUnavailable = errors.New("run store unavailable")

// ErrNotEnded is returned by Delete for a run that has not ended (it still
// has a primary record: terminate it first).
var ErrNotEnded = errors.New("run has not ended")

// ErrArchived is returned (wrapped, naming the run) by Commit (and by
// Archive, when the run has no primary record: archiveRefused) of a run
// whose archive the store holds: Archive stored it in its archived form
// and removed its primary record, and no write may create one again beside
// it — Load would return that record, made of what the late write carried
// (its head and the records it changed, nothing else), instead of the
// archive, with values the archive had rewritten to "***" stored sealed
// again. The run ended: only Restore makes it primary again, and Delete
// removes it.
var ErrArchived = errors.New("run has ended and is archived")

// archivedError is Commit's answer for archived run id.
func archivedError(id string) error { return fmt.Errorf("commit run %s: %w", id, ErrArchived) }

// archiveRefused is Archive's answer for run id archived already with no
// primary record: another process ended it first, and its archive is the
// run's end (a late Archive would replace the end it recorded).
func archiveRefused(id string) error {
	return fmt.Errorf("run %s archived already: %w", id, ErrArchived)
}

// ErrLeased is matched (errors.Is) by a *LeasedError: another live process
// holds the run's lease.
var ErrLeased = errors.New("run is leased by another process")

// Summary is the small per-run record used by List.
type Summary struct {
	ID           string `json:"workflowId"`
	WorkflowType string `json:"workflowType"`
	Version      int    `json:"version"`
	Status       string `json:"status"`
	CreateTime   int64  `json:"createTime"`
	UpdateTime   int64  `json:"updateTime"`
	ParentID     string `json:"parentWorkflowId,omitempty"`
	Archived     bool   `json:"archived"`
	// CorrelationID is the run's correlation id as a client is shown it
	// (masked), when Correlated: summaries written before it was recorded
	// do not say (read the run then).
	CorrelationID string `json:"correlationId,omitempty"`
	Correlated    bool   `json:"correlated,omitempty"`
	// Principal is the name of the principal the run executes as (who
	// started it); "" in summaries written before it was recorded.
	Principal string `json:"principal,omitempty"`
	// Lease is the run's lease as List found it (nil: none). It is not
	// stored in the index: List reads it beside the summaries.
	Lease *Lease `json:"lease,omitempty"`
}

// ListOptions filter List.
type ListOptions struct {
	// Status keeps only runs with this status ("" = all).
	Status string
	// Limit caps the number of summaries (0 = no cap). The newest come first.
	Limit int
	// ParentID keeps only the children of this run ("" = all).
	ParentID string
}

// Change is one atomic write to the primary record of a run: the parts
// that changed since the previous write, never the whole run. A nil member
// is left as stored.
type Change struct {
	// Summary is the run's List entry (always written).
	Summary Summary
	// Head is the run document's scalar members, a JSON object.
	Head []byte
	// Input, Output and Variables are the run's JSON members.
	Input, Output, Variables []byte
	// TaskDefs is the run's "taskDefs" member, a JSON value: what the run
	// keeps of the task definitions it started with. It changes rarely, so
	// it is a part of its own, written only when set (nil: left as
	// stored); a record without it assembles without the member.
	TaskDefs []byte
	// Mocks is the run's "testMocks" member, a JSON value: the mocks of a
	// test run. Written once, when the run is created (and again by a full
	// rewrite), never with every write; nil: left as stored; a record
	// without it assembles without the member.
	Mocks []byte
	// Log are entries of the run's log (the "runLog" member, an array
	// ordered by Pos): what only grows while the run runs (the engine's
	// journal of the values it registered, how far each mock got). An
	// entry is written once, by the write that appends it, and never with
	// later writes, so a write's size does not grow with the run; an entry
	// at a Pos already stored replaces it (a write that is tried again).
	Log []LogEntry
	// Tasks are task records to create or replace, keyed by Seq.
	Tasks []Task
	// DeleteTasks are the seqs of task records to delete.
	DeleteTasks []int
	// RunTag, when set, is the run's tag (TaskRunReader), RunTag(id):
	// the store keeps it with the run until the run is deleted. The
	// writer sets it with the run's first write, and again when it
	// resumes a run.
	RunTag string
	// Refs are entries of the run's reference index (RefReader) to set:
	// a reference name and the seq of the task record it names now (0
	// deletes the entry). The index is what the writer says it is; a
	// reader checks the record it names before believing it.
	Refs []RefEntry
	// DefinitionHash names the run's definition; Definition is its text,
	// stored under the hash once and shared by every run of it. Both are set
	// on a run's first write (and by Restore).
	DefinitionHash string
	Definition     []byte
	// Lease, when set, is acquired (or renewed) for LeaseTTL in the same
	// transaction; the change fails with a *LeasedError if another live
	// owner holds the run.
	Lease    *Lease
	LeaseTTL time.Duration
	// HandOver says that Head and the Tasks' Doc slices are handed over:
	// the caller never modifies their bytes after the call (it encoded
	// them for this change), so a store that keeps bytes in memory may
	// keep these slices instead of a copy. Input, Output, Variables,
	// TaskDefs, Mocks and Definition are copied whatever it says.
	HandOver bool
}

// Task is one stored task record: a JSON object, keyed within its run by
// Seq (the run's task sequence number, which also orders them).
type Task struct {
	Seq int
	Doc []byte
}

// RefEntry is one entry of a run's reference index: Ref names the task
// record at Seq (0: none).
type RefEntry struct {
	Ref string
	Seq int
}

// LogEntry is one entry of a run's log: a JSON value at position Pos.
type LogEntry struct {
	Pos int
	Doc []byte
}

// Size is the number of bytes the change carries.
func (c *Change) Size() int {
	n := len(c.Head) + len(c.Input) + len(c.Output) + len(c.Variables) + len(c.TaskDefs) + len(c.Mocks) + len(c.Definition)
	for _, t := range c.Tasks {
		n += len(t.Doc)
	}
	for _, e := range c.Log {
		n += len(e.Doc)
	}
	for _, r := range c.Refs {
		n += len(r.Ref) + 8
	}
	return n
}

// Store persists runs. Implementations are safe for concurrent use.
type Store interface {
	// Commit applies a change to the primary record of a run, creating it
	// when needed, in one transaction. A run the store holds archived is
	// refused with ErrArchived in that transaction (its lease, if the
	// change asks for one, is not taken). The store keeps no reference to
	// ch or to its slices once Commit returns (the writer makes its next
	// change in them); the bytes it keeps are its own, or handed over
	// (HandOver).
	Commit(ctx context.Context, id string, ch *Change) error
	// Load returns the run document: the primary record assembled from its
	// parts (see Assemble), or else the archived document.
	Load(ctx context.Context, id string) (doc []byte, archived bool, err error)
	// List returns run summaries, newest first, each with its lease.
	List(ctx context.Context, opt ListOptions) ([]Summary, error)
	// Archive stores the archived document and removes the primary record,
	// its signals, its answer slots (but those holding an answer, which
	// stay for their callers: slots.go) and its lease atomically. A run the store holds archived
	// with no primary record is refused with ErrArchived in that
	// transaction (its archive stays): another process ended it first.
	// After Restore the run is primary again and archives as before.
	Archive(ctx context.Context, id string, archived []byte, sum Summary) error
	// Restore makes a run primary again (restart): the primary record
	// becomes exactly ch (previous parts are dropped) and the archive is
	// removed, atomically.
	Restore(ctx context.Context, id string, ch *Change) error
	// Delete removes an ended run (its archive and index entry, its
	// signals, answer slots, lease and task logs). A run with
	// a primary record is refused with ErrNotEnded.
	Delete(ctx context.Context, id string) error
	// PutSignal records an out-of-band message for a run, keyed by name
	// (a later one with the same key replaces it). For a run the store
	// holds archived nothing is written (nobody would take it; it would
	// stay until Delete), and no error returned: the caller learns the
	// end from the run.
	PutSignal(ctx context.Context, id, key string, payload []byte) error
	// TakeSignals returns and deletes the pending signals of a run.
	TakeSignals(ctx context.Context, id string) (map[string][]byte, error)
	// PutSlot stores member in answer slot key of run id (slots.go) in
	// one step: unless (not "") is a member of the slot (put false, and
	// the slot is emptied: the two met, also after the archive), or
	// unless the store holds the run archived (put false, nothing
	// written). Archive keeps a slot holding an answer (SlotAnswer)
	// until it is taken or met, or the run deleted.
	PutSlot(ctx context.Context, id, key, member string, payload []byte, unless string) (put bool, err error)
	// TakeSlot returns and empties answer slot key of run id.
	TakeSlot(ctx context.Context, id, key string) (map[string][]byte, error)
	Leaser
	Close() error
}

// Stats counts what a store wrote: transactions that reached the backend
// (a group commit of several Commit calls counts once) and the bytes they
// carried.
type Stats struct {
	Commits int64
	Bytes   int64
	// Writes counts the backend's write operations where it knows them
	// (bolt: pages written, the meta page included, a node of several
	// pages counted once; 0 elsewhere): what a commit costs grows with
	// them.
	Writes int64
	// Written counts the bytes of the pages the backend's commits wrote
	// where it knows them (bolt: every page but the meta page; 0
	// elsewhere). Unlike Bytes (what the changes carried) it includes what
	// the layout costs: neighbours rewritten with a change, branch pages,
	// the freelist.
	Written int64
}

// StatsReporter is implemented by the stores of this package.
type StatsReporter interface {
	Stats() Stats
}

// sortSummaries orders newest first and applies the options.
func sortSummaries(all []Summary, opt ListOptions) []Summary {
	out := all[:0]
	for _, s := range all {
		if opt.Status != "" && !strings.EqualFold(s.Status, opt.Status) {
			continue
		}
		if opt.ParentID != "" && s.ParentID != opt.ParentID {
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateTime != out[j].CreateTime {
			return out[i].CreateTime > out[j].CreateTime
		}
		return out[i].ID > out[j].ID
	})
	if opt.Limit > 0 && len(out) > opt.Limit {
		out = out[:opt.Limit]
	}
	return out
}

// parts is a primary record as the backends keep it.
type parts struct {
	head, input, output, variables []byte
	taskDefs                       []byte // nil: the record has none
	mocks                          []byte // nil: the record has none
	log                            map[int][]byte
	refs                           map[string]int // the reference index (0: deleted)
	summary                        []byte         // the encoded Summary (bolt)
	defHash                        string
	tasks                          map[int][]byte
}

// Assemble renders a primary record as one run document: the head's
// members, then "input", "output", "variables", "taskDefs" and "testMocks"
// (each when not empty), "runLog" (ordered by position, when not empty),
// "tasks" (ordered by Seq) and "workflowDefinition". Every backend stores
// the same parts and assembles them with this function, so the document is
// the same whatever the store.
func Assemble(head, input, output, variables, taskDefs, mocks []byte, log, tasks [][]byte, definition []byte) ([]byte, error) {
	head = trimSpace(head)
	if len(head) < 2 || head[0] != '{' || head[len(head)-1] != '}' {
		return nil, fmt.Errorf("run head is not a JSON object")
	}
	n := len(head) + len(input) + len(output) + len(variables) + len(taskDefs) + len(mocks) + len(definition) + 128
	for _, t := range tasks {
		n += len(t) + 1
	}
	for _, e := range log {
		n += len(e) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, head[:len(head)-1]...)
	if len(head) > 2 {
		buf = append(buf, ',')
	}
	buf = member(buf, "input", input)
	buf = append(buf, ',')
	buf = member(buf, "output", output)
	buf = append(buf, ',')
	buf = member(buf, "variables", variables)
	if len(taskDefs) > 0 {
		buf = append(buf, ',')
		buf = member(buf, "taskDefs", taskDefs)
	}
	if len(mocks) > 0 {
		buf = append(buf, ',')
		buf = member(buf, "testMocks", mocks)
	}
	if len(log) > 0 {
		buf = append(buf, `,"runLog":[`...)
		for i, e := range log {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, e...)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"tasks":[`...)
	for i, t := range tasks {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, t...)
	}
	buf = append(buf, "],"...)
	buf = member(buf, "workflowDefinition", definition)
	return append(buf, '}'), nil
}

func member(dst []byte, key string, raw []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	if len(raw) == 0 {
		return append(dst, '{', '}')
	}
	return append(dst, raw...)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (p *parts) assemble(def []byte) ([]byte, error) {
	if p.head == nil {
		return nil, fmt.Errorf("run record has no head")
	}
	return Assemble(p.head, p.input, p.output, p.variables, p.taskDefs, p.mocks, ordered(p.log), ordered(p.tasks), def)
}

// ordered returns m's values ordered by key.
func ordered(m map[int][]byte) [][]byte {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func millis(t time.Time) int64 { return t.UnixMilli() }
