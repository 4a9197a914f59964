package runstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/boltfile"
)

// RunTagBytes is run id's tag as a task id carries it (bytes 8 to 11):
// the UUID variant bits, then 30 bits of the SHA-256 of the id. It hides
// nothing (the run id is shown beside its tasks).
func RunTagBytes(id string) [4]byte {
	h := sha256.Sum256([]byte(id))
	h[0] = h[0]&0x3f | 0x80
	return [4]byte(h[:4])
}

// RunTag is RunTagBytes as text (8 lowercase hex digits): what
// Change.RunTag holds and RunsTagged is asked for.
func RunTag(id string) string {
	t := RunTagBytes(id)
	return hex.EncodeToString(t[:])
}

// TaskRunReader finds the runs a task id may be a task of. A task id
// carries its run's tag (the engine's); the store keeps each run's tag
// (Change.RunTag) until the run is deleted, so a look at a task by its id
// alone (Conductor's GET /api/tasks/{taskId}) reads the runs with that
// tag — one, but for a collision — not every run of the store. A run's
// tag is written once (its first write, a resume), never with each task.
//
// What it answers is untrusted, as the rest of the store: the caller reads
// the runs it names and finds the task there, or not.
type TaskRunReader interface {
	// RunsTagged returns the runs written with tag. complete says every
	// run of the store was: the store held no run when it began keeping
	// tags, so no earlier wfrun wrote a run without one; a tag no run has
	// then names no task of the store.
	RunsTagged(ctx context.Context, tag string) (runs []string, complete bool, err error)
}

var (
	_ TaskRunReader = (*Memory)(nil)
	_ TaskRunReader = (*Bolt)(nil)
	_ TaskRunReader = (*Redis)(nil)
)

// tagLocked keeps tag for run id. Callers hold m.mu.
func (m *Memory) tagLocked(id, tag string) {
	if m.runTags == nil {
		m.tagged, m.runTags = map[string]map[string]struct{}{}, map[string]string{}
	}
	if old, ok := m.runTags[id]; ok && old != tag {
		delete(m.tagged[old], id)
	}
	m.runTags[id] = tag
	if m.tagged[tag] == nil {
		m.tagged[tag] = map[string]struct{}{}
	}
	m.tagged[tag][id] = struct{}{}
}

// untagLocked drops run id's tag. Callers hold m.mu.
func (m *Memory) untagLocked(id string) {
	if tag, ok := m.runTags[id]; ok {
		delete(m.tagged[tag], id)
		if len(m.tagged[tag]) == 0 {
			delete(m.tagged, tag)
		}
		delete(m.runTags, id)
	}
}

// RunsTagged implements TaskRunReader: a memory store starts empty, so
// every run it holds has its tag.
func (m *Memory) RunsTagged(_ context.Context, tag string) ([]string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id := range m.tagged[tag] {
		out = append(out, id)
	}
	return out, true, nil
}

// RunsTagged implements TaskRunReader. A bolt store writes no tag (a tag
// key per run is a page of its own in the commit that creates the run:
// measured, 16 concurrent runs of ten tasks wrote 15% more and fell under
// 5x one run's runs/s); a run's tag is its id's (RunTag), so the store
// keeps them in memory (boltTags): made from the run ids of the file at
// the first look, kept with this process's writes, made again when
// another process wrote the file since (boltFile's epoch).
func (b *Bolt) RunsTagged(ctx context.Context, tag string) ([]string, bool, error) {
	var runs []string
	var complete bool
	err := b.f.with(ctx, func(db *bolt.DB) error {
		t := &b.tags
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.built || t.epoch != b.f.epoch {
			if err := boltfile.View(db, t.build); err != nil {
				return err
			}
			t.built, t.epoch = true, b.f.epoch
		}
		runs, complete = slices.Clone(t.byTag[tag]), t.complete
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("run store %s: %w", b.f.path, err)
	}
	return runs, complete, nil
}

// boltTags are the tags of a bolt store's runs (Bolt.RunsTagged), by tag.
type boltTags struct {
	mu    sync.Mutex
	built bool
	// epoch is the file's (boltFile.epoch) the tags were made in.
	epoch    uint64
	byTag    map[string][]string
	complete bool
	builds   int // how many times they were made (tests)
}

// build makes the tags from every run id of the file: primary records
// (their parts, the journal, the earlier layouts) and archived runs. An
// id of a run the journal deleted may be among them: the caller reads the
// runs named and finds the task there, or not.
func (t *boltTags) build(tx *bolt.Tx) error {
	ids := map[string]struct{}{}
	eachPartsRun(tx.Bucket(bucketParts).Cursor(), func(id string) { ids[id] = struct{}{} })
	for _, name := range [][]byte{bucketIndex, bucketNested, bucketLegacy} {
		_ = tx.Bucket(name).ForEach(func(k, _ []byte) error {
			ids[string(k)] = struct{}{}
			return nil
		})
	}
	jc := tx.Bucket(bucketJournal).Cursor()
	for _, v := jc.First(); v != nil; _, v = jc.Next() {
		if _, eid, _, err := entryHeader(v); err == nil {
			ids[string(eid)] = struct{}{}
		}
	}
	t.byTag = make(map[string][]string, len(ids))
	for id := range ids {
		tag := RunTag(id)
		t.byTag[tag] = append(t.byTag[tag], id)
	}
	t.complete = tx.Bucket(bucketTags).Get(keyTagsComplete) != nil
	t.builds++
	return nil
}

// add keeps run id's tag, written by this process in the file's epoch
// (taken in the write's transaction): tags made in another epoch are not
// this file's as it is now, and are made again at the next look.
func (t *boltTags) add(id string, epoch uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.built || t.epoch != epoch {
		return
	}
	tag := RunTag(id)
	if !slices.Contains(t.byTag[tag], id) {
		t.byTag[tag] = append(t.byTag[tag], id)
	}
}

// drop forgets deleted run id.
func (t *boltTags) drop(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.built {
		return
	}
	tag := RunTag(id)
	t.byTag[tag] = slices.DeleteFunc(t.byTag[tag], func(r string) bool { return r == id })
	if len(t.byTag[tag]) == 0 {
		delete(t.byTag, tag)
	}
}

// The redis store's tags: set "tagged:<tag>" holds the runs of a tag,
// hash "runtags" each run's tag (for Delete). Key "runtags-complete" says
// the store held no run when a commit first found the runs' index empty
// (commitGuard sets it).
func (r *Redis) taggedKey(tag string) string { return r.key("tagged", tag) }
func (r *Redis) runTagsKey() string          { return r.prefix + "runtags" }
func (r *Redis) taskDoneKey() string         { return r.prefix + "runtags-complete" }

// RunsTagged implements TaskRunReader.
func (r *Redis) RunsTagged(ctx context.Context, tag string) ([]string, bool, error) {
	var runs *redis.StringSliceCmd
	var done, all *redis.IntCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		runs = p.SMembers(ctx, r.taggedKey(tag))
		done = p.Exists(ctx, r.taskDoneKey())
		all = p.HLen(ctx, r.indexKey())
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, unavailable(err)
	}
	// A store holding no run yet is complete too (its first commit
	// marks it so).
	return runs.Val(), done.Val() > 0 || all.Val() == 0, nil
}

// untag drops run id's tag (after the run: one left by a failure between
// the two names a run that is gone, which the caller finds).
func (r *Redis) untag(ctx context.Context, id string) error {
	return unavailable(untagScript.Run(ctx, r.c, []string{r.runTagsKey(), r.prefix + "tagged:"}, id).Err())
}

var untagScript = redis.NewScript(`
local tag = redis.call('HGET', KEYS[1], ARGV[1])
if tag then redis.call('SREM', KEYS[2] .. tag, ARGV[1]) redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`)
