package runstore

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// Answer slots. A caller that asks the process executing a run for
// something (an update, a pause, a variables update) waits for its answer
// in a slot of its own: the signals of id SlotID(id, key), beside the
// run's own signals (which the runner takes). The slots are the run's:
// Archive removes them with the run, in the same transaction, but for a
// slot holding an answer (member SlotAnswer): that one stays, readable,
// until its caller takes it (TakeSlot) or leaves (PutSlot meeting the
// answer) or the run is deleted, so a run that answers and then ends is
// archived at once and its caller still learns the answer. Delete removes
// them all. None is written once the run is archived.
//
// A slot is written with PutSlot only: member is stored unless the slot
// holds member unless, in one step, so a caller that leaves (marks the
// slot) and the runner that answers (writes the answer unless marked)
// never both leave something behind, whichever comes first.

// SlotAnswer is the member of a slot the runner's answer is stored under:
// a slot holding it outlives the run's archive (above).
const SlotAnswer = "outcome"

// SlotID is the signal id of slot key of run id. key holds no "/"; a
// run's slots are the ids id + "/" + a text without "/" (so a run id must
// not be another's followed by "/").
func SlotID(id, key string) string { return id + "/" + key }

// isSlotOf reports whether signal id sid is a slot of run id.
func isSlotOf(sid, id string) bool {
	rest, ok := strings.CutPrefix(sid, id+"/")
	return ok && rest != "" && !strings.Contains(rest, "/")
}

// PutSlot implements Store.
func (m *Memory) PutSlot(_ context.Context, id, key, member string, payload []byte, unless string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sid := SlotID(id, key)
	if _, marked := m.signals[sid][unless]; marked && unless != "" {
		m.dropSignalsLocked(sid)
		return false, nil
	}
	if _, ok := m.archive[id]; ok {
		return false, nil
	}
	if m.signals[sid] == nil {
		m.signals[sid] = map[string][]byte{}
		m.noteSlotLocked(sid)
	}
	m.signals[sid][member] = clone(payload)
	return true, nil
}

// TakeSlot implements Store.
func (m *Memory) TakeSlot(ctx context.Context, id, key string) (map[string][]byte, error) {
	return m.TakeSignals(ctx, SlotID(id, key))
}

// deleteSlotsLocked removes the slots of run id (m.mu held); but those
// holding an answer when keepAnswers (Archive).
func (m *Memory) deleteSlotsLocked(id string, keepAnswers bool) {
	for sid := range m.slots[id] {
		if _, answer := m.signals[sid][SlotAnswer]; answer && keepAnswers {
			continue
		}
		m.dropSignalsLocked(sid)
	}
}

// noteSlotLocked indexes signal id sid under its run when it is a slot
// (a run id holds no "/": CheckRunID), however it was written (m.mu held).
func (m *Memory) noteSlotLocked(sid string) {
	run, _, ok := strings.Cut(sid, "/")
	if !ok {
		return
	}
	if m.slots[run] == nil {
		m.slots[run] = map[string]struct{}{}
	}
	m.slots[run][sid] = struct{}{}
}

// dropSignalsLocked removes the signals of id, and id from its run's
// slots when it is one (m.mu held).
func (m *Memory) dropSignalsLocked(id string) {
	delete(m.signals, id)
	if run, _, ok := strings.Cut(id, "/"); ok {
		delete(m.slots[run], id)
		if len(m.slots[run]) == 0 {
			delete(m.slots, run)
		}
	}
}

// PutSlot implements Store.
func (b *Bolt) PutSlot(ctx context.Context, id, key, member string, payload []byte, unless string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	sid := SlotID(id, key)
	var put bool
	err := b.update(ctx, sid, true, len(payload), func(tx *bolt.Tx) error {
		put = false
		sb := tx.Bucket(bucketSignals)
		if unless != "" && sb.Get(signalKey(sid, unless)) != nil {
			return deleteSignals(tx, sid)
		}
		if hasArchived(tx, id) {
			return nil
		}
		put = true
		return sb.Put(signalKey(sid, member), payload)
	})
	return put, err
}

// TakeSlot implements Store.
func (b *Bolt) TakeSlot(ctx context.Context, id, key string) (map[string][]byte, error) {
	return b.TakeSignals(ctx, SlotID(id, key))
}

// deleteSlots removes the slots of run id: the keys id "/" key NUL member
// of bucketSignals; but the slots holding an answer when keepAnswers
// (Archive).
func deleteSlots(tx *bolt.Tx, id string, keepAnswers bool) error {
	sb := tx.Bucket(bucketSignals)
	prefix := []byte(id + "/")
	var keys [][]byte
	answered := map[string]bool{}
	c := sb.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		sid, member, ok := bytes.Cut(k, []byte{0})
		if ok && isSlotOf(string(sid), id) {
			keys = append(keys, clone(k))
			if string(member) == SlotAnswer {
				answered[string(sid)] = true
			}
		}
	}
	for _, k := range keys {
		sid, _, _ := bytes.Cut(k, []byte{0})
		if keepAnswers && answered[string(sid)] {
			continue
		}
		if err := sb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// In Redis a slot is the hash signals:<id>/<key>; the set slots:<id>
// names the keys of the run's slots that hold something, so that Archive
// and Delete find them without scanning the keyspace. Their scripts are
// given every key they touch (KEYS, as Redis Cluster and the scripting
// rules want): the set is read first (runSlots) and the script, finding it
// changed since, writes nothing and answers "stale" (slotsStale), and the
// set is read again.

// putSlotScript is PutSlot. KEYS: the slot, the run's set of slots, the
// run's archive. ARGV: member, payload, unless ("" none), the slot's key.
var putSlotScript = redis.NewScript(putSlotSrc)

var putSlotSrc = `
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[4])
  return 'marked'
end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'archived' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return 'ok'`

// slotsScriptPart removes the slots of a run from a script: KEYS[set] is
// the run's set of slots, KEYS[first...] the slots' hashes and
// ARGV[firstArg...] their keys in the set, as runSlots read them. The
// script answers "stale" (writing nothing) unless the set holds those
// keys exactly. With keep (Archive) a slot holding an answer
// (SlotAnswer) stays, and stays in the set.
func slotsScriptPart(set, first, firstArg int, keep bool) string {
	k := "false"
	if keep {
		k = "true"
	}
	return fmt.Sprintf(`
local nslots = #KEYS - %[2]d + 1
if redis.call('SCARD', KEYS[%[1]d]) ~= nslots then return 'stale' end
for i = 0, nslots - 1 do
  if redis.call('SISMEMBER', KEYS[%[1]d], ARGV[%[3]d + i]) == 0 then return 'stale' end
end
local keep = %[4]s
`, set, first, firstArg, k)
}

// slotsScriptDel is the second half of slotsScriptPart, after the
// script's own checks: it removes the slots.
func slotsScriptDel(set, first, firstArg int) string {
	return fmt.Sprintf(`
for i = 0, nslots - 1 do
  if not (keep and redis.call('HEXISTS', KEYS[%[2]d + i], '`+SlotAnswer+`') == 1) then
    redis.call('DEL', KEYS[%[2]d + i])
    redis.call('SREM', KEYS[%[1]d], ARGV[%[3]d + i])
  end
end
`, set, first, firstArg)
}

// slotsStale is a script's answer when the run's set of slots changed
// since runSlots read it; slotsRetries bounds the reads.
const (
	slotsStale   = "stale"
	slotsRetries = 20
)

// runSlots reads the keys of run id's slots (its set) and returns their
// hashes and the keys.
func (r *Redis) runSlots(ctx context.Context, id string) (hashes []string, keys []any, err error) {
	members, err := r.c.SMembers(ctx, r.slotSet(id)).Result()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	for _, k := range members {
		hashes = append(hashes, r.key("signals", SlotID(id, k)))
		keys = append(keys, k)
	}
	return hashes, keys, nil
}

// slotSet is the key of run id's set of slots.
func (r *Redis) slotSet(id string) string { return r.key("slots", id) }

// PutSlot implements Store.
func (r *Redis) PutSlot(ctx context.Context, id, key, member string, payload []byte, unless string) (bool, error) {
	res, err := putSlotScript.Run(ctx, r.c, []string{r.key("signals", SlotID(id, key)), r.slotSet(id), r.key("archive", id)},
		member, payload, unless, key).Text()
	if err != nil {
		return false, unavailable(err)
	}
	return res == "ok", nil
}

// TakeSlot implements Store (HGETALL, DEL and SREM in one MULTI/EXEC).
func (r *Redis) TakeSlot(ctx context.Context, id, key string) (map[string][]byte, error) {
	return r.takeHash(ctx, r.key("signals", SlotID(id, key)), func(p redis.Pipeliner) {
		p.SRem(ctx, r.slotSet(id), key)
	})
}
