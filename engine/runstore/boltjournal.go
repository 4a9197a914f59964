package runstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// The journal: a run's writes (Commit, Restore, Archive) are appended as
// entries to one bucket under a growing sequence, instead of being written
// into the run's record where it lies in the B+tree. The entries of one
// group commit are neighbours, so the pages a commit writes grow with the
// bytes it carries rather than with the number of runs in it (a write into
// each run's own record dirtied a leaf page per run). A primary record is
// its parts (bucketParts, the base) with its journal entries applied in
// order. When the journal holds journalLimit entries it is folded: the
// records of runs still primary are written to their parts and the journal
// is emptied, in one transaction, so a crash leaves either the journal or
// the folded parts.
//
// An entry is: kind ('c' change, 'r' restore: the record is exactly this
// change, 'e' end: the record is gone), uvarint length and run id, then the
// parts it writes — tag, for a task uvarint seq (for a log entry its
// uvarint position), uvarint length and bytes; tagDeleteTask and uvarint
// seq for a task record deleted.

var bucketJournal = []byte("journal")

// bucketDamaged keeps the journal entries a fold could not read, as they
// were, so that the journal still empties and nothing is lost: key run id,
// NUL, 8-byte sequence of the bucket, 8-byte key the entry had in the
// journal (files written before have no journal key). The run id is empty
// when the entry's header is damaged: the id is inside that header, so
// which run the entry belongs to is unknown (Damaged says so, naming the
// file and the key). A run with an entry kept there does not load
// (ErrDamagedEntry names the key); the other runs are unaffected.
var bucketDamaged = []byte("damaged")

const (
	entryChange   = 'c'
	entryRestore  = 'r'
	entryEnd      = 'e'
	tagDeleteTask = 'x'

	// defaultJournalLimit is how many entries the journal holds before
	// it is folded into the parts. A fold is a commit of its own that
	// writes the parts of the runs still primary — about as many as run
	// concurrently, however many entries it folds — so its cost per
	// entry falls with the limit (at 16 concurrent runs a fold every 256
	// entries took a tenth of the commit time). Load and List read the
	// whole journal: at 1024 entries of about 1 KiB, a Load takes about
	// 0.1 ms and a List 0.5 ms more.
	defaultJournalLimit = 1024
)

// ErrDamagedEntry is returned by Load (and Delete) of a bolt store's run
// with a journal entry that does not decode; the error names the file,
// the run and the entry, in the journal or in bucket "damaged" where a
// fold moved it.
var ErrDamagedEntry = errors.New("damaged journal entry")

var errBadEntry = ErrDamagedEntry

// encodeEntry encodes a journal entry (ch nil for entryEnd); callers do it
// outside the shared transaction.
func encodeEntry(kind byte, id string, ch *Change, sumJS []byte) []byte {
	n := 1 + binary.MaxVarintLen64 + len(id)
	if ch != nil {
		n += ch.Size() + len(sumJS) + len(ch.DefinitionHash) + 3*binary.MaxVarintLen64*(len(ch.Tasks)+len(ch.Log)+len(ch.DeleteTasks)+len(ch.Refs)+6)
	}
	b := make([]byte, 0, n)
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	if ch == nil {
		return b
	}
	put := func(tag byte, v []byte) {
		if v != nil {
			b = append(b, tag)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	put(tagHead, ch.Head)
	put(tagInput, ch.Input)
	put(tagOutput, ch.Output)
	put(tagVariables, ch.Variables)
	put(tagTaskDefs, ch.TaskDefs)
	put(tagMocks, ch.Mocks)
	if ch.DefinitionHash != "" {
		put(tagDef, []byte(ch.DefinitionHash))
	}
	for _, t := range ch.Tasks {
		b = append(b, tagTask)
		b = binary.AppendUvarint(b, uint64(t.Seq))
		b = binary.AppendUvarint(b, uint64(len(t.Doc)))
		b = append(b, t.Doc...)
	}
	for _, e := range ch.Log {
		b = append(b, tagLog)
		b = binary.AppendUvarint(b, uint64(e.Pos))
		b = binary.AppendUvarint(b, uint64(len(e.Doc)))
		b = append(b, e.Doc...)
	}
	for _, seq := range ch.DeleteTasks {
		b = append(b, tagDeleteTask)
		b = binary.AppendUvarint(b, uint64(seq))
	}
	for _, r := range ch.Refs {
		if r.Ref == "" {
			continue
		}
		b = append(b, tagRef)
		b = binary.AppendUvarint(b, uint64(max(r.Seq, 0)))
		b = binary.AppendUvarint(b, uint64(len(r.Ref)))
		b = append(b, r.Ref...)
	}
	put(tagSummary, sumJS)
	return b
}

// entryHeader splits an entry into its kind, run id and body.
func entryHeader(v []byte) (kind byte, id, body []byte, err error) {
	if len(v) < 2 {
		return 0, nil, nil, errBadEntry
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > uint64(len(v)-1-w) {
		return 0, nil, nil, errBadEntry
	}
	start := 1 + w
	return v[0], v[start : start+int(n)], v[start+int(n):], nil
}

// headerProblem says why an entry's header (kind, run id length, run id)
// does not decode, or "" when it does.
func headerProblem(v []byte) string {
	if len(v) < 2 {
		return fmt.Sprintf("the entry is %d bytes, shorter than any header", len(v))
	}
	n, w := binary.Uvarint(v[1:])
	switch {
	case w <= 0:
		return "the run id length is not a valid uvarint"
	case n > uint64(len(v)-1-w):
		return fmt.Sprintf("the run id length %d runs past the end of the entry (%d bytes)", n, len(v))
	case n == 0:
		return "the run id is empty"
	case !validID(v[1+w : 1+w+int(n)]):
		return fmt.Sprintf("the %d bytes it gives as the run id are no run id (not UTF-8, or a control character)", n)
	}
	return ""
}

func readBytes(b []byte) (v, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, errBadEntry
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// apply applies an entry body to p. The parts point into body.
func (p *parts) apply(body []byte) error {
	if p.tasks == nil {
		p.tasks = map[int][]byte{}
	}
	for len(body) > 0 {
		tag := body[0]
		body = body[1:]
		seq := -1
		if tag == tagTask || tag == tagLog || tag == tagDeleteTask || tag == tagRef {
			n, w := binary.Uvarint(body)
			if w <= 0 || n > 1<<62 {
				return errBadEntry
			}
			body, seq = body[w:], int(n)
			if tag == tagDeleteTask {
				delete(p.tasks, seq)
				continue
			}
		}
		v, rest, err := readBytes(body)
		if err != nil {
			return err
		}
		body = rest
		switch tag {
		case tagTask:
			p.tasks[seq] = v
		case tagRef:
			if p.refs == nil {
				p.refs = map[string]int{}
			}
			p.refs[string(v)] = seq
		case tagLog:
			if p.log == nil {
				p.log = map[int][]byte{}
			}
			p.log[seq] = v
		case tagHead:
			p.head = v
		case tagInput:
			p.input = v
		case tagOutput:
			p.output = v
		case tagVariables:
			p.variables = v
		case tagTaskDefs:
			p.taskDefs = v
		case tagMocks:
			p.mocks = v
		case tagDef:
			p.defHash = string(v)
		case tagSummary:
			p.summary = v
		default:
			return errBadEntry
		}
	}
	return nil
}

// record is a primary record as base parts and journal make it.
type record struct {
	p    parts
	live bool
	// reset: the journal dropped the base parts (a restore or an end).
	reset bool
}

// replayEntry applies one journal entry to r.
func (r *record) replayEntry(kind byte, body []byte) error {
	switch kind {
	case entryEnd:
		*r = record{reset: true}
		return nil
	case entryRestore:
		*r = record{reset: true}
	case entryChange:
	default:
		return errBadEntry
	}
	r.live = true
	return r.p.apply(body)
}

// loadRecord returns run id's primary record: its base parts (or a record
// of the previous layout) with its journal entries applied.
// damaged reports an entry whose header does not decode (passed over).
func loadRecord(tx *bolt.Tx, id string) (r record, damaged bool, err error) {
	return loadRecordFrom(tx, id, loadParts)
}

// loadRecordFrom is loadRecord with the base parts read by base (a
// reader of some of them: LoadTask's head and one task).
func loadRecordFrom(tx *bolt.Tx, id string, base func(*bolt.Tx, string) (parts, bool)) (r record, damaged bool, err error) {
	r.p, r.live = base(tx, id)
	if !r.live {
		r.p, r.live = loadNested(tx, id)
	}
	if dk := damagedKey(tx, id); dk != nil {
		return r, false, fmt.Errorf("run %s: journal entry kept in bucket %s as key %x: %w", id, bucketDamaged, dk, errBadEntry)
	}
	c := tx.Bucket(bucketJournal).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		kind, eid, body, err := entryHeader(v)
		if err != nil || !validID(eid) {
			// It cannot be tied to a run: it must not fail the others
			// (the next fold moves it to bucketDamaged).
			damaged = true
			continue
		}
		if string(eid) != id {
			continue
		}
		if err := r.replayEntry(kind, body); err != nil {
			return r, damaged, fmt.Errorf("run %s: journal entry %x: %w", id, k, err)
		}
	}
	return r, damaged, nil
}

// damagedKey returns the first key of bucketDamaged holding an entry of
// run id (nil: none).
func damagedKey(tx *bolt.Tx, id string) []byte {
	db := tx.Bucket(bucketDamaged)
	if db == nil {
		return nil
	}
	prefix := runPrefix(id)
	if k, _ := db.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		return clone(k)
	}
	return nil
}

// journalSummaries returns, for every run with journal entries, its
// summary when the journal leaves it primary (nil when the journal ended
// or restored it without one), and whether the journal reset its base. A
// damaged entry is passed over, as List passes over a damaged summary: it
// must not hide the other runs (Load of its run reports it).
func journalSummaries(tx *bolt.Tx) map[string]*record {
	out := map[string]*record{}
	c := tx.Bucket(bucketJournal).Cursor()
	for _, v := c.First(); v != nil; _, v = c.Next() {
		kind, eid, body, err := entryHeader(v)
		if err != nil {
			continue
		}
		r := out[string(eid)]
		if r == nil {
			r = &record{}
			out[string(eid)] = r
		}
		if err := r.replayEntry(kind, body); err != nil {
			continue
		}
		// Only the summary is kept: drop what List does not need.
		r.p = parts{summary: r.p.summary}
	}
	return out
}

// appendEntry appends an encoded entry; full reports that the journal
// reached limit and should be folded.
func appendEntry(tx *bolt.Tx, entry []byte, limit int) (full bool, err error) {
	jb := tx.Bucket(bucketJournal)
	jb.FillPercent = 1 // appended in order: pack the pages
	seq, err := jb.NextSequence()
	if err != nil {
		return false, err
	}
	if err := jb.Put(binary.BigEndian.AppendUint64(nil, seq), entry); err != nil {
		return false, err
	}
	first, _ := jb.Cursor().First()
	return len(first) == 8 && seq-binary.BigEndian.Uint64(first)+1 >= uint64(limit), nil
}

// foldJournal applies the journal to the parts — for each run, the parts
// its entries wrote (all of its parts when an entry replaced or ended the
// record) — and empties the journal. An entry that does not decode is
// moved to bucketDamaged as it is (n counts them) and the others are
// folded: one damaged entry must not keep the journal from emptying.
//
// It reads the journal twice: first the kind of every entry, to find where
// each run's record was last replaced or ended; then it applies only the
// entries after that point. The entries before it (most of them, when runs
// end within the journal) are checked, not decoded into parts: the fold
// runs in a commit every writer waits for.
func foldJournal(tx *bolt.Tx) (n int, err error) {
	type fold struct {
		reset bool
		// last is the index of the run's last entry that replaced or
		// ended its record (-1: none).
		last int
		puts map[string][]byte // part key → value; nil value: delete
	}
	type entry struct {
		k, v, body []byte
		id         string
		kind       byte
		bad        bool // moved to bucketDamaged
	}
	var entries []entry
	runs := map[string]*fold{}
	c := tx.Bucket(bucketJournal).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e := entry{k: k, v: v}
		if headerProblem(v) != "" {
			e.bad = true
			entries = append(entries, e)
			continue
		}
		kind, eid, body, _ := entryHeader(v)
		e.id, e.kind, e.body = string(eid), kind, body
		switch {
		case kind != entryChange && kind != entryRestore && kind != entryEnd:
			e.bad = true
		case kind == entryRestore && !validBody(body):
			e.bad = true
		}
		if !e.bad {
			f := runs[e.id]
			if f == nil {
				f = &fold{last: -1, puts: map[string][]byte{}}
				runs[e.id] = f
			}
			if kind != entryChange {
				f.reset, f.last = true, len(entries)
			}
		}
		entries = append(entries, e)
	}
	for i := range entries {
		e := &entries[i]
		if e.bad || e.kind == entryEnd {
			continue
		}
		f := runs[e.id]
		if i < f.last {
			// Replaced or ended later: only checked.
			e.bad = !validBody(e.body)
			continue
		}
		var p parts
		if err := p.apply(e.body); err != nil {
			e.bad = true
			continue
		}
		id := e.id
		// Copy what is written: the values point into pages this
		// transaction frees, and a commit may remap the file.
		for _, kv := range []struct {
			tag byte
			v   []byte
		}{{tagHead, p.head}, {tagInput, p.input}, {tagOutput, p.output}, {tagVariables, p.variables}, {tagTaskDefs, p.taskDefs}, {tagMocks, p.mocks}, {tagSummary, p.summary}} {
			if kv.v != nil {
				f.puts[string(partKey(id, kv.tag))] = clone(kv.v)
			}
		}
		if p.defHash != "" {
			f.puts[string(partKey(id, tagDef))] = []byte(p.defHash)
		}
		for seq, doc := range p.tasks {
			f.puts[string(taskKey(id, seq))] = clone(doc)
		}
		for pos, doc := range p.log {
			f.puts[string(logKey(id, pos))] = clone(doc)
		}
		for ref, seq := range p.refs {
			if seq > 0 {
				f.puts[string(refKey(id, ref))] = refValue(seq)
			} else {
				f.puts[string(refKey(id, ref))] = nil
			}
		}
		for _, seq := range deletedTasks(e.body) {
			f.puts[string(taskKey(id, seq))] = nil
		}
	}
	// Copied before anything is written (a write may remap the file).
	var damaged []entry
	for _, e := range entries {
		if e.bad {
			e.k, e.v = clone(e.k), clone(e.v)
			damaged = append(damaged, e)
		}
	}
	pb := tx.Bucket(bucketParts)
	for id, f := range runs {
		if f.reset {
			for _, k := range runKeys(pb, id) {
				if err := pb.Delete(k); err != nil {
					return 0, err
				}
			}
		}
		for k, v := range f.puts {
			var err error
			if v == nil {
				err = pb.Delete([]byte(k))
			} else {
				err = pb.Put([]byte(k), v)
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if len(damaged) > 0 {
		db, err := tx.CreateBucketIfNotExists(bucketDamaged)
		if err != nil {
			return 0, err
		}
		for _, d := range damaged {
			seq, err := db.NextSequence()
			if err != nil {
				return 0, err
			}
			if err := db.Put(append(binary.BigEndian.AppendUint64(runPrefix(d.id), seq), d.k...), d.v); err != nil {
				return 0, err
			}
		}
	}
	if err := tx.DeleteBucket(bucketJournal); err != nil {
		return 0, err
	}
	_, err = tx.CreateBucket(bucketJournal)
	return len(damaged), err
}

// validBody reports whether an entry body decodes (what parts.apply
// accepts), without keeping what it holds.
func validBody(body []byte) bool {
	for len(body) > 0 {
		tag := body[0]
		body = body[1:]
		switch tag {
		case tagTask, tagLog, tagDeleteTask, tagRef:
			n, w := binary.Uvarint(body)
			if w <= 0 || n > 1<<62 {
				return false
			}
			body = body[w:]
			if tag == tagDeleteTask {
				continue
			}
		case tagHead, tagInput, tagOutput, tagVariables, tagTaskDefs, tagMocks, tagDef, tagSummary:
		default:
			return false
		}
		_, rest, err := readBytes(body)
		if err != nil {
			return false
		}
		body = rest
	}
	return true
}

// deletedTasks lists the task records an (already validated) entry body
// deletes.
func deletedTasks(body []byte) []int {
	var out []int
	for len(body) > 0 {
		tag := body[0]
		body = body[1:]
		if tag == tagTask || tag == tagLog || tag == tagDeleteTask || tag == tagRef {
			n, w := binary.Uvarint(body)
			if w <= 0 {
				return out
			}
			body = body[w:]
			if tag == tagDeleteTask {
				out = append(out, int(n))
				continue
			}
		}
		_, rest, err := readBytes(body)
		if err != nil {
			return out
		}
		body = rest
	}
	return out
}

// DamagedEntry is a journal entry a fold could not read, kept as it was in
// bucket "damaged" of a bolt store.
type DamagedEntry struct {
	// RunID is the run the entry belongs to; "" when the entry's header is
	// damaged: the run id is inside that header, so the run is unknown.
	RunID string
	// Key is the entry's key in bucket "damaged".
	Key []byte
	// Err is one line naming the file, the key, and the run or why the run
	// is unknown (errors.Is ErrDamagedEntry).
	Err error
}

// Damaged lists the journal entries kept in bucket "damaged", oldest first.
func (b *Bolt) Damaged(ctx context.Context) ([]DamagedEntry, error) {
	var out []DamagedEntry
	err := b.view(ctx, func(tx *bolt.Tx) error {
		db := tx.Bucket(bucketDamaged)
		if db == nil {
			return nil
		}
		return db.ForEach(func(k, v []byte) error {
			out = append(out, damagedEntry(b.f.path, clone(k), v))
			return nil
		})
	})
	// Keys begin with the run id: the oldest first is the bucket's order.
	sort.SliceStable(out, func(i, j int) bool { return damagedSeq(out[i].Key) < damagedSeq(out[j].Key) })
	return out, err
}

// damagedSeq is the bucket sequence in a key of bucketDamaged.
func damagedSeq(k []byte) uint64 {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+9 {
		return 0
	}
	return binary.BigEndian.Uint64(k[i+1 : i+9])
}

func damagedEntry(path string, k, v []byte) DamagedEntry {
	d := DamagedEntry{Key: k}
	where := fmt.Sprintf("journal entry kept in bucket %s as key %x", bucketDamaged, k)
	if i := bytes.IndexByte(k, 0); i >= 0 {
		d.RunID = string(k[:i])
		if rest := k[i+1:]; len(rest) == 16 {
			where += fmt.Sprintf(" (journal key %x)", rest[8:])
		}
	}
	why := headerProblem(v)
	switch {
	case why != "":
		why += ", so the run it belongs to is unknown (its id is in the header)"
	case v[0] != entryChange && v[0] != entryRestore && v[0] != entryEnd:
		why = fmt.Sprintf("its kind %q is unknown", v[0])
	default:
		why = "its parts do not decode"
	}
	if d.RunID != "" {
		d.Err = fmt.Errorf("run store %s: run %s: %s: %s: %w", path, d.RunID, where, why, ErrDamagedEntry)
	} else {
		d.Err = fmt.Errorf("run store %s: %s: %s: %w", path, where, why, ErrDamagedEntry)
	}
	return d
}
