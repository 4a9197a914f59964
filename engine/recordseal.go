package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/runsecrets"
)

// A stored task record says how far the run got: a task COMPLETED with its
// output, FAILED, waiting. Someone who can write the run store (a Redis
// several hosts share) could mark an approval given, or a task done with an
// output of their choosing, and the process that resumes the run would go
// on from there. So each record this wfrun writes ends with recordSeal: an
// attestation (runsecrets.Run.Attest, bound to the run and to the record's
// seq) of the record's bytes before it. A run is resumed, restarted,
// retried or taken over only if every record verifies (checkRecords): an
// edited record, one moved to another seq or another run, or one whose
// seal was stripped is refused with one line naming it.
//
// The head says whether its records are sealed (RecordSeals, attested by
// the head's own seal, so it cannot be dropped): a run an earlier wfrun
// stored has unsealed records, believed as before, and its first write
// here seals every record. Archiving rewrites records (`_secrets` values
// become "***"): the archive seals them again (resealRecords), so a
// restart or retry of an archived run checks them too.
//
// The run's input, variables and outcome (status, reasonForIncompletion
// and output) are attested the same way, together: PartsSeal, in the
// head, attests their three digests and is made again when one of them
// changes; PartsSealed, attested with the head, says they are. A parent
// takes a child's stored end only if it verifies (checkOutcome). A run an
// earlier wfrun stored may carry one seal per part instead (InputSeal,
// VariablesSeal, OutcomeSeal and their flags): they are checked as they
// were, until the run's next write here seals it the new way.
//
// Not detected (SECURITY.md): a record, the variables or the outcome put
// back to an earlier write of themselves, a record removed (the task then
// runs again).

// ErrRecordNotAuthentic: a stored task record does not verify.
var ErrRecordNotAuthentic = errors.New("stored task record is not authentic")

// recordSealMember is the last member of every sealed task record; its
// value, an attestation, holds no quote or backslash.
const recordSealMember = `,"recordSeal":"`

// recordSealSize bounds what the member adds to a record (capacity hint).
const recordSealSize = 96

// recordPointer is where the attestation of the record at seq is bound.
func recordPointer(seq int64) string { return "/tasks/" + strconv.FormatInt(seq, 10) + "/recordSeal" }

// sealRecord closes b, an encoded task record still open (no closing
// brace), with its recordSeal. Callers hold r.mu.
func (r *runState) sealRecord(b []byte, seq int) ([]byte, error) {
	n := len(b)
	b, err := r.sec.AppendAttest(append(b, recordSealMember...), recordPointer(int64(seq)), b[:n])
	if err != nil {
		return nil, err
	}
	return append(b, '"', '}'), nil
}

// splitRecordSeal returns the bytes a record's seal attests and the seal
// (ok false: raw does not end with a recordSeal member).
func splitRecordSeal(raw []byte) (body []byte, seal string, ok bool) {
	if !bytes.HasSuffix(raw, []byte(`"}`)) {
		return nil, "", false
	}
	i := bytes.LastIndex(raw, []byte(recordSealMember))
	if i < 0 {
		return nil, "", false
	}
	s := raw[i+len(recordSealMember) : len(raw)-2]
	if bytes.ContainsAny(s, "\"\\") {
		return nil, "", false
	}
	return raw[:i], string(s), true
}

// eachRecord calls fn with each task record of doc, a run document, as a
// slice of doc (not a copy), and t, its parsed form; it returns where the
// tasks array starts and ends in doc (ok false: doc has none, or it could
// not be placed).
func eachRecord(doc []byte, fn func(raw []byte, t gjson.Result) bool) (start, end int, ok bool) {
	tasks := gjson.GetBytes(doc, "tasks")
	start, end = tasks.Index, tasks.Index+len(tasks.Raw)
	if !tasks.IsArray() || start <= 0 || end > len(doc) || doc[start] != '[' || doc[end-1] != ']' {
		return 0, 0, false
	}
	placed := true
	tasks.ForEach(func(_, t gjson.Result) bool {
		i, j := t.Index, t.Index+len(t.Raw)
		if i <= start || j >= end || doc[i] != t.Raw[0] || doc[j-1] != t.Raw[len(t.Raw)-1] {
			placed = false
			return false
		}
		return fn(doc[i:j], t)
	})
	return start, end, placed
}

// variablesPointer is where the attestation of a run's variables was
// bound (VariablesSeal, written by an earlier wfrun).
const variablesPointer = "/variables/variablesSeal"

// inputPointer is where the attestation of a run's stored input was bound
// (InputSeal, written by an earlier wfrun).
const inputPointer = "/inputSeal"

// outcomePointer is where the attestation of a run's outcome (its status,
// reasonForIncompletion and output) was bound (OutcomeSeal, written by an
// earlier wfrun).
const outcomePointer = "/outcomeSeal"

// The parts of a run PartsSeal attests, by their digests.
const (
	partInput = iota
	partVariables
	partOutcome // status, reasonForIncompletion and output (outcomeAttested)
	numParts
)

// partsPointer is where the attestation of a run's parts is bound.
const partsPointer = "/partsSeal"

// partsVersion starts what PartsSeal attests.
const partsVersion = "wfrun-parts:v1:"

// partsAttested is what a run's PartsSeal attests: the digests of its
// parts, in their order.
func partsAttested(d *[numParts][sha256.Size]byte) []byte {
	b := make([]byte, 0, len(partsVersion)+numParts*sha256.Size)
	b = append(b, partsVersion...)
	for i := range d {
		b = append(b, d[i][:]...)
	}
	return b
}

// storedParts is partsAttested of a stored run's input, variables, status,
// reason and output.
func storedParts(input, variables []byte, status, reason string, output []byte) []byte {
	var d [numParts][sha256.Size]byte
	d[partInput] = sha256.Sum256(orEmpty(input))
	d[partVariables] = sha256.Sum256(orEmpty(variables))
	d[partOutcome] = sha256.Sum256(outcomeAttested(status, reason, orEmpty(output)))
	return partsAttested(&d)
}

// sealPartsLocked attests the input, variables and outcome the next write
// stores (PartsSeal, one attestation of their three digests), when one of
// them changed since the last write or full (the run written whole), and
// says from then on that the run's parts are sealed so. A part's digest
// is made again only when the part changed: a write that changes the
// variables hashes the variables, not the input. A run whose head carries
// the three seals of an earlier wfrun (VariablesSealed, InputSealed,
// OutcomeSealed) takes PartsSeal in their place at its first write here.
// Callers hold r.mu.
func (r *runState) sealPartsLocked(full bool) error {
	// Written whole, for the first time, or sealed another way so far:
	// every part is attested as this write stores it.
	whole := full || !r.stored || !r.doc.PartsSealed
	again := whole
	if whole || r.changedIn || !r.partsKnown[partInput] {
		r.partDigests[partInput], r.partsKnown[partInput] = sha256.Sum256(orEmpty(r.inStored)), true
		r.changedIn, again = r.changedIn || whole, true
	}
	if whole || r.changedVars || !r.partsKnown[partVariables] {
		r.partDigests[partVariables], r.partsKnown[partVariables] = sha256.Sum256(orEmpty(r.varStored)), true
		r.changedVars, again = r.changedVars || whole, true
	}
	outcome := outcomeKey{r.doc.Status, r.doc.ReasonForIncompletion}
	if whole || r.changedOut || !r.partsKnown[partOutcome] || r.sealedOutcome != outcome {
		r.partDigests[partOutcome] = sha256.Sum256(outcomeAttested(outcome.status, outcome.reason, orEmpty(r.outStored)))
		r.partsKnown[partOutcome], r.sealedOutcome, again = true, outcome, true
	}
	if !again {
		return nil
	}
	a, err := r.sec.Attest(partsPointer, partsAttested(&r.partDigests))
	if err != nil {
		r.partsKnown = [numParts]bool{}
		return err
	}
	r.doc.PartsSeal, r.doc.PartsSealed = a, true
	r.doc.VariablesSeal, r.doc.InputSeal, r.doc.OutcomeSeal = "", "", ""
	r.doc.VariablesSealed, r.doc.InputSealed, r.doc.OutcomeSealed = false, false, false
	return nil
}

// outcomeKey is the status and reason an outcome's digest is of.
type outcomeKey struct{ status, reason string }

// outcomeAttested is the outcome part of a run: its status, its
// reasonForIncompletion (as stored) and its stored output, each apart.
func outcomeAttested(status, reason string, output []byte) []byte {
	b := make([]byte, 0, len(status)+len(reason)+len(output)+24)
	b = strconv.AppendInt(b, int64(len(status)), 10)
	b = append(append(b, ':'), status...)
	b = strconv.AppendInt(b, int64(len(reason)), 10)
	b = append(append(b, ':'), reason...)
	return append(b, output...)
}

// outcomeError is why run id's stored status, reason and output (d) do
// not verify when its head says they are sealed (nil: they do). Its input
// and variables are attested with them (PartsSeal) and checked too.
func outcomeError(sec *runsecrets.Run, id string, d *runDoc) error {
	if d.PartsSealed {
		if err := sec.Verify(d.PartsSeal, partsPointer, storedParts(d.Input, d.Variables, d.Status, d.ReasonForIncompletion, d.Output)); err != nil {
			return fmt.Errorf("%w: run %s: its input, variables, status, reason or output (%s) do not verify (edited, or copied from another run): %v", ErrRecordNotAuthentic, id, d.Status, err)
		}
	}
	if !d.OutcomeSealed {
		return nil
	}
	if err := sec.Verify(d.OutcomeSeal, outcomePointer, outcomeAttested(d.Status, d.ReasonForIncompletion, orEmpty(d.Output))); err != nil {
		return fmt.Errorf("%w: run %s: its status, reason or output (%s) do not verify (edited, or copied from another run): %v", ErrRecordNotAuthentic, id, d.Status, err)
	}
	return nil
}

// checkOutcome authenticates what another run takes from run id's stored
// document d, read whole: its head (not its definition, which it does not
// read), and its status, reason and output when the head says they are
// sealed. A parent takes its child's end so, a SUB_WORKFLOW task following
// a run its idempotency key names too.
func (e *Engine) checkOutcome(id string, d *runDoc) error {
	if err := e.verifyHeadSeal(id, d); err != nil {
		return err
	}
	if !d.OutcomeSealed && !d.PartsSealed {
		return nil
	}
	sec, err := e.newRunSecrets(id, nil)
	if err != nil {
		return err
	}
	return outcomeError(sec, id, d)
}

// checkRecords verifies every task record of doc, run id's stored
// document (d decoded from it), when its head says they are sealed, and
// its variables, input and outcome when it says they are.
func (e *Engine) checkRecords(id string, doc []byte, d *runDoc) error {
	if !d.RecordSeals && !d.VariablesSealed && !d.OutcomeSealed && !d.InputSealed && !d.PartsSealed {
		return nil
	}
	sec, err := e.newRunSecrets(id, nil)
	if err != nil {
		return err
	}
	if d.InputSealed {
		if err := sec.Verify(d.InputSeal, inputPointer, orEmpty(d.Input)); err != nil {
			return fmt.Errorf("%w: run %s: its input does not verify (edited, or copied from another run): %v", ErrRecordNotAuthentic, id, err)
		}
	}
	if err := outcomeError(sec, id, d); err != nil {
		return err
	}
	if d.VariablesSealed {
		if err := sec.Verify(d.VariablesSeal, variablesPointer, orEmpty(d.Variables)); err != nil {
			return fmt.Errorf("%w: run %s: its variables do not verify (edited, or copied from another run): %v", ErrRecordNotAuthentic, id, err)
		}
	}
	if !d.RecordSeals {
		return nil
	}
	var bad error
	if _, _, ok := eachRecord(doc, func(raw []byte, t gjson.Result) bool {
		bad = recordError(sec, id, raw, t)
		return bad == nil
	}); !ok && bad == nil && gjson.GetBytes(doc, "tasks").Exists() {
		bad = fmt.Errorf("%w: run %s: its task records cannot be read", ErrRecordNotAuthentic, id)
	}
	return bad
}

// recordError is why task record t of run id does not verify (nil: it
// does).
func recordError(sec *runsecrets.Run, id string, raw []byte, t gjson.Result) error {
	seq := t.Get("seq")
	body, seal, ok := splitRecordSeal(raw)
	switch {
	case seq.Type != gjson.Number:
		return fmt.Errorf("%w: run %s: a task record has no seq", ErrRecordNotAuthentic, id)
	case !ok:
		return fmt.Errorf("%w: run %s: task record %d (%q) carries no seal", ErrRecordNotAuthentic, id, seq.Int(), t.Get("referenceTaskName").Str)
	}
	if err := sec.Verify(seal, recordPointer(seq.Int()), body); err != nil {
		return fmt.Errorf("%w: run %s: task record %d (%q) does not verify (edited, moved from another place or run, or sealed with another keyring): %v",
			ErrRecordNotAuthentic, id, seq.Int(), t.Get("referenceTaskName").Str, err)
	}
	return nil
}

// checkStoredTask authenticates what a look at one attempt read (lookTask):
// the run's head, as checkHead does but for its definition, which the look
// does not read, and the attempt's record when the head says records are
// sealed.
func (e *Engine) checkStoredTask(id string, head, task []byte) error {
	var h runDoc
	if err := json.Unmarshal(head, &h); err != nil {
		return fmt.Errorf("run %s: damaged head: %w", id, err)
	}
	if err := e.verifyHeadSeal(id, &h); err != nil {
		return err
	}
	if !h.RecordSeals {
		return nil
	}
	sec, err := e.newRunSecrets(id, nil)
	if err != nil {
		return err
	}
	return recordError(sec, id, task, gjson.ParseBytes(task))
}

// checkStoredDoc authenticates run id's stored document, read whole by a
// look at one attempt or a view (d decoded from doc): its head and
// records, as a resume checks them; an archived run as a restart does
// (checkArchivedDoc): what a view shows of it (its status, tasks and
// outputs) and what a server's wait takes from it (how it ended) are
// read from it.
func (e *Engine) checkStoredDoc(id string, doc []byte, d *runDoc, archived bool) error {
	if archived {
		return e.checkArchivedDoc(id, doc, d)
	}
	if err := e.checkHead(id, d); err != nil {
		return err
	}
	return e.checkRecords(id, doc, d)
}

// checkArchivedDoc authenticates run id's archived document (d decoded
// from doc) for a reader that takes more from it than that it ended (its
// status and task records: StoredAttempt): its head, but for its
// definition (an archived run's is masked and found again by the hash the
// seal attests), and its records, input, variables and outcome, which the
// archive sealed again as archived (resealRecords).
func (e *Engine) checkArchivedDoc(id string, doc []byte, d *runDoc) error {
	if err := e.verifyHeadSeal(id, d); err != nil {
		return err
	}
	return e.checkRecords(id, doc, d)
}

// resealRecords seals again each task record of doc, a run document whose
// records were rewritten after they were sealed (an archive's `_secrets`
// values made "***"): a record without a seal is left as it is.
func resealRecords(doc []byte, sec *runsecrets.Run) ([]byte, error) {
	// The head's attestations of parts the archive may have rewritten,
	// made again over those parts as archived.
	outcome := func(out []byte) []byte {
		return outcomeAttested(gjson.GetBytes(doc, "status").Str, gjson.GetBytes(doc, "reasonForIncompletion").Str, out)
	}
	if gjson.GetBytes(doc, "partsSeal").Exists() {
		raw := func(part string) []byte {
			if v := gjson.GetBytes(doc, part); v.Exists() {
				return []byte(v.Raw)
			}
			return nil
		}
		seal, err := sec.Attest(partsPointer, storedParts(raw("input"), raw("variables"),
			gjson.GetBytes(doc, "status").Str, gjson.GetBytes(doc, "reasonForIncompletion").Str, raw("output")))
		if err != nil {
			return nil, err
		}
		if doc, err = sjson.SetBytes(doc, "partsSeal", seal); err != nil {
			return nil, err
		}
	}
	for _, a := range []struct {
		seal, part, pointer string
		attested            func(part []byte) []byte // nil: the part as it is
	}{
		{"variablesSeal", "variables", variablesPointer, nil},
		{"inputSeal", "input", inputPointer, nil},
		{"outcomeSeal", "output", outcomePointer, outcome},
	} {
		if !gjson.GetBytes(doc, a.seal).Exists() {
			continue
		}
		part := []byte("{}")
		if v := gjson.GetBytes(doc, a.part); v.Exists() {
			part = []byte(v.Raw)
		}
		if a.attested != nil {
			part = a.attested(part)
		}
		seal, err := sec.Attest(a.pointer, part)
		if err != nil {
			return nil, err
		}
		if doc, err = sjson.SetBytes(doc, a.seal, seal); err != nil {
			return nil, err
		}
	}
	if !bytes.Contains(doc, []byte(recordSealMember)) {
		return doc, nil
	}
	var out []byte
	var err error
	n := 0
	_, end, ok := eachRecord(doc, func(raw []byte, t gjson.Result) bool {
		if out == nil {
			out = append(make([]byte, 0, len(doc)+64), doc[:t.Index]...)
		} else {
			out = append(out, ',')
		}
		n++
		body, _, sealed := splitRecordSeal(raw)
		seq := t.Get("seq")
		if !sealed || seq.Type != gjson.Number {
			out = append(out, raw...)
			return true
		}
		out, err = sec.AppendAttest(append(append(out, body...), recordSealMember...), recordPointer(seq.Int()), body)
		out = append(out, '"', '}')
		return err == nil
	})
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errors.New("reseal task records: cannot place them")
	case n == 0:
		return doc, nil
	}
	return append(out, doc[end-1:]...), nil
}

// stripRecordSeals removes the recordSeal member of each task record of
// doc, a stored run document: a view shows Conductor's Task, not the
// store's bookkeeping.
func stripRecordSeals(doc []byte) []byte {
	if !bytes.Contains(doc, []byte(recordSealMember)) {
		return doc
	}
	var out []byte
	n := 0
	_, end, ok := eachRecord(doc, func(raw []byte, t gjson.Result) bool {
		if out == nil {
			out = append(make([]byte, 0, len(doc)), doc[:t.Index]...)
		} else {
			out = append(out, ',')
		}
		n++
		if body, _, sealed := splitRecordSeal(raw); sealed {
			out = append(append(out, body...), '}')
		} else {
			out = append(out, raw...)
		}
		return true
	})
	if !ok || n == 0 {
		return doc
	}
	return append(out, doc[end-1:]...)
}
