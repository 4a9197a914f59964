package runstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/boltfile"
)

var (
	// bucketParts holds the base of the primary records, one key per part
	// (partKey); bucketJournal what was written since (boltjournal.go).
	bucketParts   = []byte("parts")
	bucketDefs    = []byte("definitions")
	bucketArchive = []byte("archive")
	// bucketIndex holds the summaries of archived runs (a primary record
	// keeps its summary among its parts).
	bucketIndex   = []byte("index")
	bucketSignals = []byte("signals")
	bucketLeases  = []byte("leases")
	// bucketNested holds primary records of the previous layout (a bucket
	// per run, its summary in the index); bucketLegacy whole run documents
	// of the one before. Both are read as they are and moved to the parts
	// layout when the run is next written.
	bucketNested = []byte("primary")
	bucketLegacy = []byte("runs")

	allBuckets = [][]byte{bucketParts, bucketJournal, bucketDefs, bucketArchive, bucketIndex, bucketSignals, bucketLeases, bucketNested, bucketLegacy, bucketDamaged}

	// bucketTags holds keyTagsComplete when the file held no run as it
	// was made (or first opened by a wfrun whose task ids carry their
	// run's tag): every run's task ids then carry its tag (RunsTagged).
	bucketTags      = []byte("tags")
	keyTagsComplete = []byte("complete")
)

// The parts of a primary record are keys id 0x00 tag [seq] of one bucket,
// so that a run's parts are neighbours in the B+tree. The tags order the
// parts that change on every write (the newest task, the head, the summary)
// next to each other: a write usually dirties one leaf page per run, which
// is what a group commit of many runs pays for.
const (
	tagDef      = 'd'
	tagInput    = 'i'
	tagTaskDefs = 'k'
	tagMocks    = 'm'
	tagOutput   = 'o'
	// tagRef keys the run's reference index (id 0x00 'r' ref): the
	// value is the seq (8 bytes, big-endian) of the record ref names.
	tagRef       = 'r'
	tagTask      = 't'
	tagHead      = 'u'
	tagVariables = 'v'
	tagSummary   = 'w'
	// tagLog keys the run's log entries (id 0x00 'y' pos): after the
	// summary, so that the newest entry is near the parts every write
	// dirties.
	tagLog = 'y'
)

// ErrBadRunID is returned for a run id the store cannot key: empty, not
// UTF-8, or with a control character (NUL among them).
var ErrBadRunID = errors.New("run id is empty, not UTF-8 or contains a control character or \"/\"")

func checkID(id string) error {
	if !validID([]byte(id)) {
		return fmt.Errorf("%w: %q", ErrBadRunID, id)
	}
	return nil
}

// validID reports whether id is a run id the store keys: what a damaged
// journal entry header decodes to mostly is not (boltjournal.go).
func validID(id []byte) bool {
	if len(id) == 0 || !utf8.Valid(id) {
		return false
	}
	for _, c := range string(id) {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// CheckRunID is checkID for the id of a run being written: it also
// refuses "/", which separates a run's id from the key of one of its
// answer slots (SlotID), so that no run's id is another's slot and the
// Archive or Delete of run "a" never takes the signals of run "a/b".
// Commit calls it on every backend; an engine Start calls it first.
func CheckRunID(id string) error {
	if id == "" || !utf8.ValidString(id) || strings.IndexFunc(id, func(c rune) bool { return c == '/' || unicode.IsControl(c) }) >= 0 {
		return fmt.Errorf("%w: %q", ErrBadRunID, id)
	}
	return nil
}

func runPrefix(id string) []byte { return append([]byte(id), 0) }

func partKey(id string, tag byte) []byte { return append(runPrefix(id), tag) }

func taskKey(id string, seq int) []byte {
	k := partKey(id, tagTask)
	return binary.BigEndian.AppendUint64(k, uint64(seq))
}

func refKey(id, ref string) []byte {
	return append(partKey(id, tagRef), ref...)
}

func logKey(id string, pos int) []byte {
	k := partKey(id, tagLog)
	return binary.BigEndian.AppendUint64(k, uint64(pos))
}

// eachPartsRun calls fn with the id of each run the parts bucket holds,
// in key order, through cursor c: one seek per run, past its parts (fn may
// move c meanwhile).
func eachPartsRun(c *bolt.Cursor, fn func(id string)) {
	for k, _ := c.First(); k != nil; {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			k, _ = c.Next()
			continue
		}
		id := string(k[:i])
		fn(id)
		k, _ = c.Seek(append(runPrefix(id), 0xff))
	}
}

// runKeys returns (copies of) every key of run id's primary record.
func runKeys(b *bolt.Bucket, id string) [][]byte {
	prefix := runPrefix(id)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, clone(k))
	}
	return keys
}

// Bolt is a Store over one bbolt file. The file stays open while this
// process uses it and is handed over to another process that asks for it
// (see boltFile); concurrent writers in this process share transactions
// (group commit).
type Bolt struct {
	f       boltFile
	gc      groupCommit[func(*bolt.Tx) error]
	commits atomic.Int64
	bytes   atomic.Int64
	writes  atomic.Int64
	written atomic.Int64
	// journalLimit is how many entries the journal holds before it is
	// folded; foldDue says it reached that; journaled that entries were
	// appended since the last fold.
	journalLimit int
	foldDue      atomic.Bool
	journaled    atomic.Bool
	// direct: the batch being committed is a writer alone (it follows a
	// batch of one, or is the first), so its change goes to the parts
	// directly when the journal is empty: a lone run pays no more pages
	// than without a journal, and never a fold. Set by the leader of the
	// group commit; alone and forceJournal (tests) decide it.
	direct       bool
	alone        bool
	forceJournal bool
	// live are runs Commit found not archived (liveRuns).
	live liveRuns
	// tags are the runs' tags (RunsTagged).
	tags boltTags
}

var _ Store = (*Bolt)(nil)

// BoltOption configures OpenBolt.
type BoltOption func(*Bolt)

// WithLockTimeout sets how long an operation waits for the file held by
// another process (default 10s).
func WithLockTimeout(d time.Duration) BoltOption { return func(b *Bolt) { b.f.timeout = d } }

// WithIdleRelease sets after how long without operations the file is
// closed, letting other processes in without asking (default 100ms).
func WithIdleRelease(d time.Duration) BoltOption { return func(b *Bolt) { b.f.idle = d } }

// OpenBolt returns a Store over the bbolt file at path, creating the file and
// its buckets if needed (directory 0700, file 0600).
func OpenBolt(path string, opts ...BoltOption) (*Bolt, error) {
	b := &Bolt{f: boltFile{path: path, wantPath: path + ".want", timeout: 10 * time.Second, idle: 100 * time.Millisecond},
		journalLimit: defaultJournalLimit, alone: true}
	for _, o := range opts {
		o(b)
	}
	b.f.onOpen = ensureBuckets
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("run store %s: %w", path, err)
	}
	if err := b.f.with(context.Background(), func(*bolt.DB) error { return nil }); err != nil {
		return nil, err
	}
	return b, nil
}

func ensureBuckets(db *bolt.DB) error {
	missing := false
	_ = db.View(func(tx *bolt.Tx) error {
		for _, name := range append(allBuckets, bucketTags) {
			if tx.Bucket(name) == nil {
				missing = true
			}
		}
		return nil
	})
	if !missing {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTags) == nil {
			tb, err := tx.CreateBucket(bucketTags)
			if err != nil {
				return err
			}
			if holdsNoRun(tx) {
				if err := tb.Put(keyTagsComplete, []byte{1}); err != nil {
					return err
				}
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// holdsNoRun reports whether tx's file holds no run in any layout.
func holdsNoRun(tx *bolt.Tx) bool {
	for _, name := range [][]byte{bucketParts, bucketJournal, bucketIndex, bucketNested, bucketLegacy} {
		if b := tx.Bucket(name); b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				return false
			}
		}
	}
	return true
}

// Path returns the file the store uses.
func (b *Bolt) Path() string { return b.f.path }

// Stats implements StatsReporter.
func (b *Bolt) Stats() Stats {
	return Stats{Commits: b.commits.Load(), Bytes: b.bytes.Load(), Writes: b.writes.Load(), Written: b.written.Load()}
}

// countWrites adds the page writes of tx to the stats once it committed.
func (b *Bolt) countWrites(tx *bolt.Tx) {
	tx.OnCommit(func() {
		st := tx.Stats()
		b.writes.Add(st.GetWrite())
		b.written.Add(st.GetPageAlloc())
	})
}

type boltReq = commitReq[func(*bolt.Tx) error]

func (b *Bolt) runBatch(ctx context.Context) func([]*boltReq) {
	return func(batch []*boltReq) {
		b.direct = len(batch) == 1 && b.alone && !b.forceJournal
		b.alone = len(batch) == 1
		if b.direct && b.journaled.Load() {
			// Writes go to the parts again: fold what the concurrent
			// writers journaled first.
			b.foldDue.Store(true)
			b.fold(ctx)
		}
		err := b.f.with(ctx, func(db *bolt.DB) error {
			return boltfile.Update(db, func(tx *bolt.Tx) error {
				for _, r := range batch {
					if err := r.op(tx); err != nil {
						return err
					}
				}
				b.countWrites(tx)
				return nil
			})
		})
		if err == nil || len(batch) == 1 {
			if err == nil {
				b.commits.Add(1)
				for _, r := range batch {
					b.bytes.Add(int64(r.size))
				}
			}
			for _, r := range batch {
				r.done <- err
			}
			b.fold(ctx)
			return
		}
		// One change failed the shared transaction: each alone, so only
		// the failing one fails.
		for _, r := range batch {
			err := b.f.with(ctx, func(db *bolt.DB) error {
				return boltfile.Update(db, func(tx *bolt.Tx) error {
					if err := r.op(tx); err != nil {
						return err
					}
					b.countWrites(tx)
					return nil
				})
			})
			if err == nil {
				b.commits.Add(1)
				b.bytes.Add(int64(r.size))
			}
			r.done <- err
		}
		b.fold(ctx)
	}
}

// fold folds the journal into the parts when it is full. It runs in its
// own transaction, by the leader of the group commit after its batch: a
// failure leaves the journal as it is (the next append asks again).
func (b *Bolt) fold(ctx context.Context) {
	if !b.foldDue.Swap(false) {
		return
	}
	folded := false
	err := b.f.with(ctx, func(db *bolt.DB) error {
		return boltfile.Update(db, func(tx *bolt.Tx) error {
			if k, _ := tx.Bucket(bucketJournal).Cursor().First(); k == nil {
				return nil
			}
			b.countWrites(tx)
			folded = true
			// Entries that do not decode are moved to bucketDamaged:
			// Load of their run names them.
			_, err := foldJournal(tx)
			return err
		})
	})
	if err == nil {
		b.journaled.Store(false)
		if folded {
			b.commits.Add(1)
		}
	}
}

// journal appends an entry in tx.
func (b *Bolt) journal(tx *bolt.Tx, entry []byte) error {
	full, err := appendEntry(tx, entry, b.journalLimit)
	if full {
		b.foldDue.Store(true)
	}
	b.journaled.Store(true)
	return err
}

// writeDirect says whether this transaction's change goes to the parts
// directly: a lone writer, and no journal entry that would be applied over
// it (another process may have appended some).
func (b *Bolt) writeDirect(tx *bolt.Tx) bool {
	if !b.direct {
		return false
	}
	k, _ := tx.Bucket(bucketJournal).Cursor().First()
	return k == nil
}

// update runs fn in a write transaction shared with concurrent callers
// (the writer of run id; once: it is not expected to write again soon, as
// after Archive, or for a signal or a lease renewal). A cancelled ctx does
// not interrupt a commit that has started.
func (b *Bolt) update(ctx context.Context, id string, once bool, size int, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.gc.do(b.runBatch(context.WithoutCancel(ctx)), newReq(id, once, size, fn))
}

func (b *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	return b.f.with(ctx, func(db *bolt.DB) error { return boltfile.View(db, fn) })
}

func encodeSummary(id string, sum Summary, archived bool) ([]byte, error) {
	sum.ID, sum.Archived, sum.Lease = id, archived, nil
	return json.Marshal(sum)
}

// applyBolt writes a change, as a journal entry (encoded by the caller,
// outside the shared transaction) or to the parts directly, with what goes
// beside it: the lease, the definition, the move of a record of an earlier
// layout.
func (b *Bolt) applyBolt(tx *bolt.Tx, id string, ch *Change, sumJS, entry []byte) error {
	if ch.Lease != nil {
		if err := putLease(tx, id, *ch.Lease, ch.LeaseTTL); err != nil {
			return err
		}
	}
	if err := moveNested(tx, id); err != nil {
		return err
	}
	if ch.DefinitionHash != "" {
		defs := tx.Bucket(bucketDefs)
		if defs.Get([]byte(ch.DefinitionHash)) == nil && ch.Definition != nil {
			if err := defs.Put([]byte(ch.DefinitionHash), ch.Definition); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketLegacy).Delete([]byte(id)); err != nil {
			return err
		}
	}
	if b.writeDirect(tx) {
		return putParts(tx.Bucket(bucketParts), id, ch, sumJS)
	}
	return b.journal(tx, entry)
}

// putParts writes a change into run id's parts.
func putParts(pb *bolt.Bucket, id string, ch *Change, sumJS []byte) error {
	for _, kv := range []struct {
		tag byte
		v   []byte
	}{{tagHead, ch.Head}, {tagInput, ch.Input}, {tagOutput, ch.Output}, {tagVariables, ch.Variables}, {tagTaskDefs, ch.TaskDefs}, {tagMocks, ch.Mocks}} {
		if kv.v != nil {
			if err := pb.Put(partKey(id, kv.tag), kv.v); err != nil {
				return err
			}
		}
	}
	for _, t := range ch.Tasks {
		if err := pb.Put(taskKey(id, t.Seq), t.Doc); err != nil {
			return err
		}
	}
	for _, e := range ch.Log {
		if err := pb.Put(logKey(id, e.Pos), e.Doc); err != nil {
			return err
		}
	}
	for _, seq := range ch.DeleteTasks {
		if err := pb.Delete(taskKey(id, seq)); err != nil {
			return err
		}
	}
	for _, r := range ch.Refs {
		if r.Ref == "" {
			continue
		}
		var err error
		if r.Seq <= 0 {
			err = pb.Delete(refKey(id, r.Ref))
		} else {
			err = pb.Put(refKey(id, r.Ref), refValue(r.Seq))
		}
		if err != nil {
			return err
		}
	}
	if ch.DefinitionHash != "" {
		if err := pb.Put(partKey(id, tagDef), []byte(ch.DefinitionHash)); err != nil {
			return err
		}
	}
	return pb.Put(partKey(id, tagSummary), sumJS)
}

// Commit implements Store.
func (b *Bolt) Commit(ctx context.Context, id string, ch *Change) error {
	if err := CheckRunID(id); err != nil {
		return err
	}
	sumJS, err := encodeSummary(id, ch.Summary, false)
	if err != nil {
		return err
	}
	entry := encodeEntry(entryChange, id, ch, sumJS)
	var epoch uint64
	err = b.update(ctx, id, false, ch.Size(), func(tx *bolt.Tx) error {
		if err := b.refuseArchived(tx, id); err != nil {
			return err
		}
		epoch = b.f.epoch
		return b.applyBolt(tx, id, ch, sumJS, entry)
	})
	if err == nil && ch.RunTag != "" {
		// A run's first write (or a resume's): its tag is its id's.
		b.tags.add(id, epoch)
	}
	return err
}

// liveRuns are the runs Commit found not archived in earlier transactions
// on db, the file as this process has it open. While it is open the file
// is this process's alone (bbolt holds an exclusive lock on it; another
// process gets it after a close, and a new *bolt.DB comes with the next
// open), and only Archive writes an archive, forgetting its run here
// first. So a run found here has no archive: Commit skips looking it up,
// which opens the archive bucket in every transaction (allocations a
// lone writer pays on every write). Touched only inside write
// transactions and their commit handlers, which the leader of the group
// commit runs one at a time.
type liveRuns struct {
	db  *bolt.DB
	ids map[string]struct{}
}

// maxLiveRuns bounds liveRuns: past it, it starts over.
const maxLiveRuns = 4096

// refuseArchived is ErrArchived when run id is archived in tx. The archive
// is written to its bucket directly (never through the journal), so tx
// sees it.
func (b *Bolt) refuseArchived(tx *bolt.Tx, id string) error {
	db := tx.DB()
	if b.live.db == db {
		if _, ok := b.live.ids[id]; ok {
			return nil
		}
	}
	if hasArchived(tx, id) {
		return archivedError(id)
	}
	tx.OnCommit(func() {
		if b.live.db != db || len(b.live.ids) >= maxLiveRuns {
			b.live = liveRuns{db: db, ids: map[string]struct{}{}}
		}
		b.live.ids[id] = struct{}{}
	})
	return nil
}

// forgetLive drops run id from liveRuns, now (for the writes after it in
// tx) and once tx committed (after the commit handlers of the writes
// before it in tx, which found it not archived).
func (b *Bolt) forgetLive(tx *bolt.Tx, id string) {
	delete(b.live.ids, id)
	tx.OnCommit(func() { delete(b.live.ids, id) })
}

// loadParts reads run id's primary record in the parts layout (ok false:
// there is none).
func loadParts(tx *bolt.Tx, id string) (p parts, ok bool) {
	prefix := runPrefix(id)
	p.tasks = map[int][]byte{}
	c := tx.Bucket(bucketParts).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ok = true
		rest := k[len(prefix):]
		switch {
		case len(rest) == 9 && rest[0] == tagTask:
			p.tasks[int(binary.BigEndian.Uint64(rest[1:]))] = v
		case len(rest) == 9 && rest[0] == tagLog:
			if p.log == nil {
				p.log = map[int][]byte{}
			}
			p.log[int(binary.BigEndian.Uint64(rest[1:]))] = v
		case len(rest) > 1 && rest[0] == tagRef:
			if p.refs == nil {
				p.refs = map[string]int{}
			}
			p.refs[string(rest[1:])] = refSeq(v)
		case len(rest) != 1:
		case rest[0] == tagHead:
			p.head = v
		case rest[0] == tagInput:
			p.input = v
		case rest[0] == tagOutput:
			p.output = v
		case rest[0] == tagVariables:
			p.variables = v
		case rest[0] == tagTaskDefs:
			p.taskDefs = v
		case rest[0] == tagMocks:
			p.mocks = v
		case rest[0] == tagDef:
			p.defHash = string(v)
		}
	}
	return p, ok
}

// Load implements Store.
func (b *Bolt) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if err := checkID(id); err != nil {
		return nil, false, err
	}
	var doc []byte
	var archived bool
	err := b.view(ctx, func(tx *bolt.Tx) error {
		r, damaged, err := loadRecord(tx, id)
		if damaged {
			// An entry no run can be told by: the next write folds
			// the journal, which moves it aside.
			b.foldDue.Store(true)
		}
		if err != nil {
			return fmt.Errorf("run store %s: %w", b.f.path, err)
		}
		if r.live {
			// Assemble copies: nothing of the mmap escapes the transaction.
			doc, err = r.p.assemble(tx.Bucket(bucketDefs).Get([]byte(r.p.defHash)))
			if err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
			return nil
		}
		if v := tx.Bucket(bucketLegacy).Get([]byte(id)); v != nil {
			doc = clone(v)
			return nil
		}
		v, err := getArchived(tx, id)
		if err != nil {
			return fmt.Errorf("run store %s: %w", b.f.path, err)
		}
		if v != nil {
			doc, archived = v, true
			return nil
		}
		return ErrNotFound
	})
	return doc, archived, err
}

// List implements Store: the summaries of archived runs (and of runs of
// the earlier layouts) from the index, those of primary records from their
// parts.
func (b *Bolt) List(ctx context.Context, opt ListOptions) ([]Summary, error) {
	byID := map[string]Summary{}
	err := b.view(ctx, func(tx *bolt.Tx) error {
		add := func(v []byte) {
			var s Summary
			if json.Unmarshal(v, &s) == nil { // a damaged entry must not hide the others
				byID[s.ID] = s
			}
		}
		if err := tx.Bucket(bucketIndex).ForEach(func(_, v []byte) error { add(v); return nil }); err != nil {
			return err
		}
		journal := journalSummaries(tx)
		// One seek per run: to its summary, then past its parts.
		c := tx.Bucket(bucketParts).Cursor()
		eachPartsRun(c, func(id string) {
			if r := journal[id]; r == nil || !r.reset {
				if sk, v := c.Seek(partKey(id, tagSummary)); sk != nil && bytes.Equal(sk, partKey(id, tagSummary)) {
					add(v)
				}
			}
		})
		for _, r := range journal {
			if r.live && r.p.summary != nil {
				add(r.p.summary)
			}
		}
		leases := tx.Bucket(bucketLeases)
		for id, s := range byID {
			if l, ok := decodeLease(leases.Get([]byte(id))); ok {
				s.Lease = &l
				byID[id] = s
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	all := make([]Summary, 0, len(byID))
	for _, s := range byID {
		all = append(all, s)
	}
	return sortSummaries(all, opt), nil
}

// deletePrimary removes the base of run id's primary record, whatever its
// layout; the caller appends the journal entry that ends or replaces it.
func deletePrimary(tx *bolt.Tx, id string) error {
	pb := tx.Bucket(bucketParts)
	for _, k := range runKeys(pb, id) {
		if err := pb.Delete(k); err != nil {
			return err
		}
	}
	if tx.Bucket(bucketNested).Bucket([]byte(id)) != nil {
		if err := tx.Bucket(bucketNested).DeleteBucket([]byte(id)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketLegacy).Delete([]byte(id))
}

// Archive implements Store: one bbolt transaction writes the archive and
// deletes the primary record, its signals, its answer slots and its lease.
func (b *Bolt) Archive(ctx context.Context, id string, archived []byte, sum Summary) error {
	if err := checkID(id); err != nil {
		return err
	}
	sumJS, err := encodeSummary(id, sum, true)
	if err != nil {
		return err
	}
	end := encodeEntry(entryEnd, id, nil, nil)
	stored := prepareArchive(archived)
	return b.update(ctx, id, true, len(archived), func(tx *bolt.Tx) error {
		b.forgetLive(tx, id)
		// Archived already (the archive is never journaled, so this
		// transaction sees it) with no primary record: another process
		// ended the run first. The record is looked up (journal
		// included) only then.
		if hasArchived(tx, id) {
			if r, _, err := loadRecord(tx, id); err == nil && !r.live {
				return archiveRefused(id)
			}
		}
		// Journal entries of the run must not outlive it.
		if k, _ := tx.Bucket(bucketJournal).Cursor().First(); k != nil {
			if err := b.journal(tx, end); err != nil {
				return err
			}
		}
		if err := putArchived(tx, id, stored); err != nil {
			return err
		}
		if err := deletePrimary(tx, id); err != nil {
			return err
		}
		if err := deleteSignals(tx, id); err != nil {
			return err
		}
		if err := deleteSlots(tx, id, true); err != nil { // slots.go
			return err
		}
		if err := tx.Bucket(bucketLeases).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bucketIndex).Put([]byte(id), sumJS)
	})
}

// Restore implements Store.
func (b *Bolt) Restore(ctx context.Context, id string, ch *Change) error {
	if err := checkID(id); err != nil {
		return err
	}
	sumJS, err := encodeSummary(id, ch.Summary, false)
	if err != nil {
		return err
	}
	entry := encodeEntry(entryRestore, id, ch, sumJS)
	var epoch uint64
	err = b.update(ctx, id, false, ch.Size(), func(tx *bolt.Tx) error {
		if err := deletePrimary(tx, id); err != nil {
			return err
		}
		if err := deleteArchived(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketIndex).Delete([]byte(id)); err != nil {
			return err
		}
		epoch = b.f.epoch
		return b.applyBolt(tx, id, ch, sumJS, entry)
	})
	if err == nil {
		b.tags.add(id, epoch)
	}
	return err
}

// Delete implements Store.
func (b *Bolt) Delete(ctx context.Context, id string) error {
	err := b.update(ctx, id, true, 0, func(tx *bolt.Tx) error {
		r, _, err := loadRecord(tx, id)
		if err != nil {
			return fmt.Errorf("run store %s: %w", b.f.path, err)
		}
		if r.live || tx.Bucket(bucketLegacy).Get([]byte(id)) != nil {
			return ErrNotEnded
		}
		if !hasArchived(tx, id) {
			return ErrNotFound
		}
		if err := deleteArchived(tx, id); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketIndex, bucketLeases} {
			if err := tx.Bucket(name).Delete([]byte(id)); err != nil {
				return err
			}
		}
		if err := deleteTaskLogs(tx, id); err != nil {
			return err
		}
		if err := deleteSlots(tx, id, false); err != nil { // slots.go
			return err
		}
		return deleteSignals(tx, id)
	})
	if err == nil {
		b.tags.drop(id)
	}
	return err
}

func signalKey(id, key string) []byte { return []byte(id + "\x00" + key) }

// PutSignal implements Store.
func (b *Bolt) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	return b.update(ctx, id, true, len(payload), func(tx *bolt.Tx) error {
		if hasArchived(tx, id) {
			return nil // nobody takes it: the run ended (Store.PutSignal)
		}
		return tx.Bucket(bucketSignals).Put(signalKey(id, key), payload)
	})
}

func deleteSignals(tx *bolt.Tx, id string) error {
	c := tx.Bucket(bucketSignals).Cursor()
	prefix := runPrefix(id)
	var keys [][]byte
	for k, _ := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
		keys = append(keys, clone(k))
	}
	for _, k := range keys {
		if err := tx.Bucket(bucketSignals).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// TakeSignals implements Store.
func (b *Bolt) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	var out map[string][]byte
	// Peek in a read transaction first: polling runners must not queue
	// write transactions when there is nothing to take.
	prefix := id + "\x00"
	err := b.view(ctx, func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketSignals).Cursor().Seek([]byte(prefix))
		if k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == prefix {
			out = map[string][]byte{}
		}
		return nil
	})
	if err != nil || out == nil {
		return nil, err
	}
	err = b.update(ctx, id, true, 0, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignals).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == prefix; k, v = c.Next() {
			out[string(k[len(prefix):])] = clone(v)
		}
		return deleteSignals(tx, id)
	})
	return out, err
}

// AcquireLease implements Leaser.
func (b *Bolt) AcquireLease(ctx context.Context, id string, l Lease, ttl time.Duration) error {
	return b.update(ctx, id, true, 0, func(tx *bolt.Tx) error { return putLease(tx, id, l, ttl) })
}

func putLease(tx *bolt.Tx, id string, l Lease, ttl time.Duration) error {
	lb := tx.Bucket(bucketLeases)
	cur, has := decodeLease(lb.Get([]byte(id)))
	nl, err := grant(id, cur, has, l, ttl, time.Now())
	if err != nil {
		return err
	}
	js, err := json.Marshal(nl)
	if err != nil {
		return err
	}
	return lb.Put([]byte(id), js)
}

// RenewLease implements Leaser.
func (b *Bolt) RenewLease(ctx context.Context, id string, l Lease, ttl time.Duration) error {
	return b.update(ctx, id, true, 0, func(tx *bolt.Tx) error {
		if hasArchived(tx, id) {
			return leaseArchived(id)
		}
		return putLease(tx, id, l, ttl)
	})
}

// ReleaseLease implements Leaser.
func (b *Bolt) ReleaseLease(ctx context.Context, id, owner string) error {
	return b.update(ctx, id, true, 0, func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketLeases)
		if cur, ok := decodeLease(lb.Get([]byte(id))); ok && cur.Owner == owner {
			return lb.Delete([]byte(id))
		}
		return nil
	})
}

// GetLease implements Leaser.
func (b *Bolt) GetLease(ctx context.Context, id string) (Lease, bool, error) {
	var l Lease
	var ok bool
	err := b.view(ctx, func(tx *bolt.Tx) error {
		l, ok = decodeLease(tx.Bucket(bucketLeases).Get([]byte(id)))
		return nil
	})
	return l, ok, err
}

// Close implements Store: the file is closed and its lock released.
func (b *Bolt) Close() error { return b.f.close() }
