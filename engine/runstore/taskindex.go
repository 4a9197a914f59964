package runstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

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

// RunsTagged implements TaskRunReader: a bolt store keeps no tags. A
// tag key per run is a page of its own in the commit that creates the run
// (tags are random): measured, 16 concurrent runs of ten tasks wrote 15%
// more and fell under 5x one run's runs/s. A bolt file is one process's at
// a time, which knows the tasks it ran (serve's in-memory index) until it
// restarts; its look by task id alone reads the runs.
func (b *Bolt) RunsTagged(context.Context, string) ([]string, bool, error) { return nil, false, nil }

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
