package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/jsonenc"
)

// A run's log holds what only grows while the run runs and must survive
// it: the values the run registered with its masker (a resumed run masks
// what this one did, runsecrets.Run.JournalSince) and, for a test run, how
// many mocks of each reference it has taken (mockstore.go). Both were head
// members once, rewritten whole with every write, so a DO_WHILE that
// registers a value or takes a mock per iteration wrote O(iterations)
// bytes per write (SPEC §8: a run persists what changed). The log is a
// part of the stored run (runstore.Change.Log) that a write appends to:
// an entry carries what the run registered and the mock counts that
// changed since the previous entry, and is written once.
//
// An entry is a JSON object {"values": sealed, "mocksUsed": sealed}, each
// member when it has something; each is sealed through the run's secret
// boundary bound to the run and to the entry's position ("/runLog/N/…"),
// so an entry copied from another run or position, edited or cut short
// does not open. The head says how many entries the log holds
// (runLogLength), a count its own seal attests (headSeal, headseal.go):
// a count edited, one whose head carries no seal, or a log missing one of
// the counted entries fails to load, naming the run and the entry. A head
// an earlier wfrun wrote may carry the count sealed on its own as well
// (runLogSeal): it is checked as before, and the run's next write drops
// it (the head seal covers the count; ~90 bytes less in every head). What
// the seals cannot tell: an older head's count and seal put back with the
// log cut to it (the run rolled back to an earlier write of itself, as
// replacing the whole journal did before), and a head stripped of count,
// seal and every entry, which reads as a run an earlier wfrun stored
// with nothing registered.
//
// A write of the whole record (the first write of this process, a restore)
// writes the log from position 0: one entry with everything. A run stored
// by an earlier wfrun has the head members instead: they are read, and its
// next write (a whole one) moves them to the log.

// runLog is a run's log as this process knows it. Callers hold r.mu.
type runLog struct {
	// length is how many entries the log holds once pending are written.
	length int
	// values is how many of the values registered with the run's masker
	// (runsecrets.Run.Registered) the log holds.
	values int
	// mocks are the references whose mock count changed since the last
	// entry.
	mocks map[string]bool
	// pending are entries made but not written yet (a write failed): the
	// next write carries them again, at their positions.
	pending []runstore.LogEntry
}

// logPointer is where the member of log entry pos is bound.
func logPointer(pos int, member string) string {
	return "/runLog/" + strconv.Itoa(pos) + "/" + member
}

// resetLogLocked starts the log again from position 0: the next entry
// holds every value registered and every mock count. Callers hold r.mu.
func (r *runState) resetLogLocked() {
	r.log = runLog{mocks: map[string]bool{}}
	for ref := range r.doc.MocksUsed {
		r.log.mocks[ref] = true
	}
}

// noteMockUsedLocked records that the test run took used mocks of ref:
// the log's next entry carries the count. Callers hold r.mu.
func (r *runState) noteMockUsedLocked(ref string, used int) {
	if r.doc.MocksUsed == nil {
		r.doc.MocksUsed = map[string]int{}
	}
	r.doc.MocksUsed[ref] = used
	if r.log.mocks == nil {
		r.log.mocks = map[string]bool{}
	}
	r.log.mocks[ref] = true
}

// appendLogLocked makes the log's next entry, when there is anything new
// to keep, and returns the entries the next write carries (with those a
// failed write left); it sets the head's count. Callers hold r.mu.
func (r *runState) appendLogLocked() ([]runstore.LogEntry, error) {
	l := &r.log
	pos := l.length
	values, n, err := r.sec.JournalSince(l.values, logPointer(pos, "values"))
	if err != nil {
		return nil, fmt.Errorf("runLog: %w", err)
	}
	var mocks string
	if len(l.mocks) > 0 {
		plain := []byte{'{'}
		for i, ref := range slices.Sorted(maps.Keys(l.mocks)) {
			if i > 0 {
				plain = append(plain, ',')
			}
			plain = append(jsonenc.AppendString(plain, ref), ':')
			plain = strconv.AppendInt(plain, int64(r.doc.MocksUsed[ref]), 10)
		}
		if mocks, err = r.sec.Seal(append(plain, '}'), logPointer(pos, "mocksUsed")); err != nil {
			return nil, fmt.Errorf("runLog: %w", err)
		}
	}
	if values != "" || mocks != "" {
		doc := []byte{'{'}
		if values != "" {
			doc = append(jsonenc.AppendString(append(doc, `"values":`...), values), ',')
		}
		if mocks != "" {
			doc = append(jsonenc.AppendString(append(doc, `"mocksUsed":`...), mocks), ',')
		}
		doc[len(doc)-1] = '}'
		l.pending = append(l.pending, runstore.LogEntry{Pos: pos, Doc: doc})
		l.length++
		l.values = n
		clear(l.mocks)
	}
	entries := l.pending
	l.pending = nil
	r.doc.RunLogLength, r.doc.RunLogSeal = l.length, "" // the head's seal attests the count
	return entries, nil
}

// runLogLengthPointer is where the head's sealed count is bound.
const runLogLengthPointer = "/runLogLength"

// checkLogLength authenticates the head's count of log entries.
func (r *runState) checkLogLength(d *runDoc) error {
	if d.RunLogSeal == "" {
		if d.HeadSeal != "" {
			// The head's seal attests the count (0 too: a count and
			// log dropped together). Checked here unless checkHead
			// did (a restart on the latest definition has changed
			// the head since): not every reader of a stored run
			// checks the head before its log (chainMasker, for a
			// view).
			if d.headChecked {
				return nil
			}
			return r.e.verifyHeadSeal(r.id, d)
		}
		if d.RunLogLength != 0 || len(d.RunLog) != 0 {
			return fmt.Errorf("runLog: the head's count (%d, %d entries stored) is not sealed", d.RunLogLength, len(d.RunLog))
		}
		return nil // an empty log: an earlier wfrun's head, an archived run's
	}
	// An earlier wfrun's head: the count sealed on its own.
	plain, err := r.sec.Open(d.RunLogSeal, runLogLengthPointer)
	if err != nil {
		return fmt.Errorf("runLogSeal: %w", err)
	}
	n, err := strconv.Atoi(string(plain))
	if err != nil || n != d.RunLogLength {
		return fmt.Errorf("runLog: the head counts %d entries, its seal another count", d.RunLogLength)
	}
	return nil
}

// logEntry is an entry of the run's log as stored.
type logEntry struct {
	Values    string `json:"values"`
	MocksUsed string `json:"mocksUsed"`
}

// openLog rebuilds what a stored run's log (or the head members of an
// earlier wfrun) holds: the values it registered, given back to its
// masker, and its mock counts (into r.doc.MocksUsed), each entry
// authenticated, bound to this run and its position.
func (r *runState) openLog(ctx context.Context, d *runDoc) error {
	if err := r.sec.Restore(d.RegisteredValues); err != nil {
		return err
	}
	if err := r.checkLogLength(d); err != nil {
		return err
	}
	used := maps.Clone(d.MocksUsed)
	if d.RunLogLength < 0 || len(d.RunLog) < d.RunLogLength {
		return fmt.Errorf("runLog: %d entries stored, the run wrote %d", len(d.RunLog), d.RunLogLength)
	}
	for pos, raw := range d.RunLog[:d.RunLogLength] {
		var e logEntry
		if err := json.Unmarshal(raw, &e); err != nil || (e.Values == "" && e.MocksUsed == "") {
			return fmt.Errorf("runLog entry %d: damaged", pos)
		}
		if e.Values != "" {
			if err := r.sec.RestoreAt(e.Values, logPointer(pos, "values")); err != nil {
				return fmt.Errorf("runLog entry %d: %w", pos, err)
			}
		}
		if e.MocksUsed != "" {
			plain, err := r.sec.Open(e.MocksUsed, logPointer(pos, "mocksUsed"))
			if err != nil {
				return fmt.Errorf("runLog entry %d: %w", pos, err)
			}
			var counts map[string]int
			if err := json.Unmarshal(plain, &counts); err != nil {
				return fmt.Errorf("runLog entry %d: mocksUsed: damaged", pos)
			}
			if used == nil {
				used = map[string]int{}
			}
			maps.Copy(used, counts)
		}
	}
	// The first write of this process writes the whole record, the log
	// from position 0 (changeLocked): what an earlier wfrun's head held
	// moves to the log then.
	r.doc.MocksUsed = used
	// The definition's static names are read again: values used before
	// the process died may appear in later outputs.
	r.sec.Reread(ctx, r.def.staticSecretNames(r.e))
	return nil
}
