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
// mocked tasks for real:
//
//   - the mocks as the test request gave them, sealed through the run's
//     secret boundary and bound to the run and "/testMocks" (they may hold
//     values that look like secrets; an edited part, or another run's
//     copied in, fails to open), are a part of the stored run of their own
//     ("testMocks", runstore.Change.Mocks), written with the record's first
//     write only, not with each write;
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
// A test run that runs again is a test again, with a test state of its
// own (new passes), never calling out for its mocked tasks:
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
//     with none left waits (mock.go), whatever its type.
//
// A run marked as a test run whose mocks are not stored (removed from the
// store) is resumed as a test with no mock left, except that a task that
// would run for real fails terminally instead (its mocks are unknown: a
// test run never calls out for them). Test runs stored by a wfrun without
// this part carried no mark at all and resume as ordinary runs.

// testMocksPointer binds a run's sealed mocks.
const testMocksPointer = "/testMocks"

// keepMocks seals a new test run's mocks and marks its head, to be written
// with its first write. Not a test run: nothing.
func (r *runState) keepMocks() error {
	if r.test == nil {
		return nil
	}
	m := r.test.mocks
	if m == nil {
		m = &Mocks{}
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("testMocks: %w", err)
	}
	sealed, err := r.sec.Seal(plain, testMocksPointer)
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
	var m Mocks
	if err := json.Unmarshal(plain, &m); err != nil {
		return fmt.Errorf("testMocks: damaged")
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("testMocks: %w", err)
	}
	tr := newTestRun(t, &m)
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
	if tr == nil || tr.absent || tr.mocks == nil || (!fromStart && len(refs) == 0) {
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
func (tr *testRun) adopt(ref string, loaded *testRun) *testRun {
	if tr == nil {
		return loaded
	}
	if loaded == nil {
		return tr.child(ref)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if k := tr.kids[ref]; k != nil {
		return k
	}
	loaded.t = tr.t
	tr.kids[ref] = loaded
	return loaded
}
