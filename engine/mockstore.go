package engine

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/wfrun/wfrun/internal/jsonenc"
)

// A test run keeps its mocks with it, so that a process that resumes it (a
// serve takeover after a crash, `wfrun resume`, a retry, restart or rerun)
// goes on taking mocks where the first one stopped instead of running its
// mocked tasks for real — or, once its test stopped, gives none either:
//
//   - the mocks as the test request gave them, sealed through the run's
//     secret boundary and bound to the run and "/testMocks" (they may hold
//     values that look like secrets; an edited part, or another run's
//     copied in, fails to open), are a part of the stored run of their own
//     ("testMocks", runstore.Change.Mocks), written with the record's first
//     write, and again when the test stops ("testOver" in the sealed text:
//     the run, resumed anywhere, goes on without mocks, as in the process
//     where the test answered);
//   - the head marks the run a test run ("test"), and the run's log
//     (runlog.go) holds how many mocks of each reference it has taken: an
//     IN_PROGRESS mock uses one up without ending the attempt, so the task
//     records do not tell. The count is appended with the attempt the mock
//     ended (or moved on), in the same commit; an archived run holds the
//     counts in its head ("mocksUsed"), where a run stored by an earlier
//     wfrun held them too;
//   - a child of a SUB_WORKFLOW stores the mocks its reference was given
//     and the count it started from, and a resumed parent shares the
//     resumed child's state with the child's next attempts.
//
// A test run that runs again (restart, rerun, retry) is a test again, with
// passes of its own, also after its test stopped, never calling out for
// its mocked tasks:
//
//   - restarted from the start, its tasks all run anew, so its mocks start
//     over from the first of each reference: the restart is the test run
//     again, with the outcome the test had. (Conductor keeps no mocks: its
//     test loop ends with the request, so its restart runs the test run
//     with none — its worker tasks wait in the test's domain for good, and
//     its system tasks call out for real, which wfrun's mocks forbid;)
//   - rerun from a task, the references of the records the rerun drops
//     start over (the tasks that are kept keep what they used);
//   - retried, it goes on where it ended: a failed task's new attempt takes
//     its reference's next mock, as a retried attempt does in the test; one
//     with none left waits (mock.go), whatever its type;
//   - a child that runs again re-opens its parent's SUB_WORKFLOW task (in
//     the process that executes the parent, or by executing the parent):
//     it goes on with its test as stored by the process that ran it again
//     (its mocks left, whether its test stopped), in its parent's passes
//     while the parent's test goes on, else in passes of its own (adopt).
//
// A run marked as a test run whose mocks are not stored (removed from the
// store) is resumed as a test with no mock left, except that a task that
// would run for real fails terminally instead (its mocks are unknown: a
// test run never calls out for them). Test runs stored by a wfrun without
// this part (development builds before it, never released) carry no mark
// at all, and nothing else in them tells them from an ordinary run (the
// random "*" domain of a test run started through wfrun serve is one a
// start request may give too): they resume as ordinary runs, their tasks
// running for real, and are not guessed at. Terminate or remove such a
// run rather than resume it.

// testMocksPointer binds a run's sealed mocks.
const testMocksPointer = "/testMocks"

// keepMocks seals a new test run's mocks and marks its head, to be written
// with its first write. Not a test run: nothing.
func (r *runState) keepMocks() error {
	if r.test == nil {
		return nil
	}
	sealed, err := r.sealMocks()
	if err != nil {
		return err
	}
	r.test.mu.Lock()
	used := maps.Clone(r.test.used) // a child's reference may have used some
	r.test.mu.Unlock()
	if len(used) == 0 {
		used = nil
	}
	r.mu.Lock()
	r.doc.TestMocks, r.doc.Test, r.doc.MocksUsed = sealed, true, used
	r.changedMocks = true
	r.mu.Unlock()
	return nil
}

// storedMocks is the plain text of the "testMocks" part: the mocks as the
// request gave them, and whether the run's test stopped (Over: the run
// goes on without mocks, in any process).
type storedMocks struct {
	Mocks
	Over bool `json:"testOver,omitempty"`
}

// sealMocks seals the run's mocks part.
func (r *runState) sealMocks() (string, error) {
	sm := storedMocks{}
	if r.test.mocks != nil {
		sm.Mocks = *r.test.mocks
	}
	r.test.mu.Lock()
	sm.Over = r.test.over
	r.test.mu.Unlock()
	plain, err := json.Marshal(sm)
	if err != nil {
		return "", fmt.Errorf("testMocks: %w", err)
	}
	return r.sec.Seal(plain, testMocksPointer)
}

// markTestOver records in the run's mocks part, with its next write, that
// its test stopped: a process that resumes the run gives it no mock
// either, as Conductor gives none once its test loop has answered. A run
// stored without its mocks: nothing to record.
func (r *runState) markTestOver() error {
	tr := r.test
	if tr == nil || tr.absent {
		return nil
	}
	tr.mu.Lock()
	was := tr.over
	tr.over = true
	tr.mu.Unlock()
	if was {
		return nil
	}
	sealed, err := r.sealMocks()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.doc.TestMocks = sealed
	r.changedMocks = true
	r.mu.Unlock()
	return nil
}

// openMocks rebuilds a stored test run's state: its mocks, authenticated
// and bound to this run, less those used. sealed "": the run is marked a
// test run but its mocks are not stored.
func (r *runState) openMocks(sealed string, used map[string]int) error {
	t := newTestState()
	if sealed == "" {
		t.root = newTestRun(t, nil)
		t.root.absent = true
		r.doc.Test = true
		r.test = t.root
		return nil
	}
	plain, err := r.sec.Open(sealed, testMocksPointer)
	if err != nil {
		return fmt.Errorf("testMocks: %w", err)
	}
	var sm storedMocks
	if err := json.Unmarshal(plain, &sm); err != nil {
		return fmt.Errorf("testMocks: damaged")
	}
	m := sm.Mocks
	if err := m.Validate(); err != nil {
		return fmt.Errorf("testMocks: %w", err)
	}
	tr := newTestRun(t, &m)
	if sm.Over {
		// No pass any more (mockgate.go); a child adopted by its parent
		// (which shares the parent's passes) takes no mock either.
		tr.over, tr.halted = true, true
		t.gate.stopped = true
	}
	for ref, n := range used {
		if n < 0 || n > len(tr.left[ref]) {
			return fmt.Errorf("testMocks: mocksUsed[%q] is %d, the run has %d mocks for it", ref, n, len(tr.left[ref]))
		}
		tr.left[ref], tr.used[ref] = tr.left[ref][n:], n
	}
	t.root = tr
	r.doc.Test = true
	r.test = tr
	return nil
}

// restartMocks gives a test run that runs again its mocks back: every
// reference's (fromStart) or those of refs, stored with the restart. Not a
// test run, or one stored without its mocks: nothing.
func (r *runState) restartMocks(fromStart bool, refs map[string]bool) error {
	tr := r.test
	if tr == nil || tr.absent || tr.mocks == nil {
		return nil
	}
	tr.mu.Lock()
	over := tr.over
	tr.over = false // a test again: passes of its own
	tr.mu.Unlock()
	tr.t.gate.mu.Lock()
	tr.t.gate.stopped, tr.halted = false, false
	tr.t.gate.mu.Unlock()
	if !over && !fromStart && len(refs) == 0 {
		return nil
	}
	var reset []string
	tr.mu.Lock()
	for ref, list := range tr.mocks.Tasks {
		if fromStart || refs[ref] {
			tr.left[ref] = append([]TaskMock(nil), list...)
			if tr.used[ref] > 0 {
				reset = append(reset, ref)
			}
			delete(tr.used, ref)
		}
	}
	tr.mu.Unlock()
	if err := r.keepMocks(); err != nil {
		return err
	}
	// The run's log says so too (runlog.go), whichever write carries it.
	r.mu.Lock()
	for _, ref := range reset {
		r.noteMockUsedLocked(ref, 0)
	}
	r.mu.Unlock()
	return nil
}

// mocksPartLocked is the run's mocks as their stored part, a JSON string
// (nil: not a test run). Callers hold r.mu.
func (r *runState) mocksPartLocked() []byte {
	if r.doc.TestMocks == "" {
		return nil
	}
	return jsonenc.AppendString(nil, r.doc.TestMocks)
}

// adopt makes loaded, the test state a child of the SUB_WORKFLOW ref was
// resumed with, the one the child's next attempts share (unless this
// process already has one). A child stored without any takes the
// reference's mocks as a new child would.
//
// A child that runs again (retried, restarted or rerun, possibly by
// another process) and re-opens ref (reopened) goes on with its test as
// it was stored: its mocks left and whether its test stopped are those of
// its stored part, whatever this process kept of its first run. It goes
// in its parent's passes while the parent's test goes on, else in passes
// of its own (as a test run that runs again does, mockstore.go).
func (tr *testRun) adopt(ref string, loaded *testRun) *testRun {
	if tr == nil {
		return loaded
	}
	if loaded == nil {
		return tr.child(ref)
	}
	g := tr.t.gate
	g.mu.Lock() // before tr.mu, as the passes take them
	passes := !g.stopped
	g.mu.Unlock()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.reopened[ref] {
		delete(tr.reopened, ref)
		if passes || loaded.over {
			loaded.t = tr.t
		}
		tr.kids[ref] = loaded
		return loaded
	}
	if k := tr.kids[ref]; k != nil {
		return k
	}
	loaded.t = tr.t
	tr.kids[ref] = loaded
	return loaded
}

// reopen records that the child of the SUB_WORKFLOW ref runs again and is
// loaded next (adopt). Not a test run: nothing.
func (tr *testRun) reopen(ref string) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.reopened == nil {
		tr.reopened = map[string]bool{}
	}
	tr.reopened[ref] = true
}

// reopenBeside is reopen for a child executed beside the run's other tasks
// (reopen_executing.go): its goroutine counts for the passes from now;
// done is called when it ends.
func (tr *testRun) reopenBeside(ref string) (done func()) {
	if tr == nil {
		return func() {}
	}
	tr.reopen(ref)
	b := tr.t.gate.newBesideWait()
	tr.mu.Lock()
	if tr.besides == nil {
		tr.besides = map[string]*besideWait{}
	}
	tr.besides[ref] = b
	tr.mu.Unlock()
	return func() {
		tr.mu.Lock()
		if tr.besides[ref] == b {
			delete(tr.besides, ref)
		}
		tr.mu.Unlock()
		b.end()
	}
}

// awaitBeside is a goroutine of the run about to wait for the re-opened
// child of ref to end (endSide, a JOIN): it does not count for the passes
// until the child ends or it calls the returned func, which it calls once
// it goes on.
func (tr *testRun) awaitBeside(ref string) (goOn func()) {
	if tr == nil {
		return func() {}
	}
	tr.mu.Lock()
	b := tr.besides[ref]
	tr.mu.Unlock()
	if b == nil {
		return func() {}
	}
	return b.block()
}

// reopenTasks is reopen for the SUB_WORKFLOW records taskIDs (a re-opened
// parent's, reopen.go). Callers hold r.mu.
func (r *runState) reopenTasksLocked(taskIDs map[string]bool) {
	if r.test == nil {
		return
	}
	for _, t := range r.tasks {
		if taskIDs[t.TaskID] && t.TaskType == TypeSubWorkflow {
			r.test.reopen(t.Ref)
		}
	}
}
