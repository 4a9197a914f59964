package runstore

import (
	"bytes"
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// Answer slots. A caller that asks the process executing a run for
// something (an update, a pause, a variables update) waits for its answer
// in a slot of its own: the signals of id SlotID(id, key), beside the
// run's own signals (which the runner takes). The slots are the run's:
// Archive and Delete remove them with the run, in the same transaction,
// and none is written once the run is archived.
//
// A slot is written with PutSlot only: member is stored unless the slot
// holds member unless, in one step, so a caller that leaves (marks the
// slot) and the runner that answers (writes the answer unless marked)
// never both leave something behind, whichever comes first.

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
	if _, ok := m.archive[id]; ok {
		return false, nil
	}
	sid := SlotID(id, key)
	if _, marked := m.signals[sid][unless]; marked && unless != "" {
		m.dropSignalsLocked(sid)
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

// deleteSlotsLocked removes the slots of run id (m.mu held).
func (m *Memory) deleteSlotsLocked(id string) {
	for sid := range m.slots[id] {
		delete(m.signals, sid)
	}
	delete(m.slots, id)
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
		if hasArchived(tx, id) {
			return nil
		}
		sb := tx.Bucket(bucketSignals)
		if unless != "" && sb.Get(signalKey(sid, unless)) != nil {
			return deleteSignals(tx, sid)
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
// of bucketSignals.
func deleteSlots(tx *bolt.Tx, id string) error {
	sb := tx.Bucket(bucketSignals)
	prefix := []byte(id + "/")
	var keys [][]byte
	c := sb.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		sid, _, ok := bytes.Cut(k, []byte{0})
		if ok && isSlotOf(string(sid), id) {
			keys = append(keys, clone(k))
		}
	}
	for _, k := range keys {
		if err := sb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// In Redis a slot is the hash signals:<id>/<key>; the set slots:<id>
// names the keys of the run's slots that hold something, so that Archive
// and Delete remove them in their scripts (slotsScriptPart) without
// scanning the keyspace. The hashes are keys the scripts are not given
// (KEYS): they share the hash tag of every key of the store, so they are
// in the scripts' Cluster slot.

// putSlotScript is PutSlot. KEYS: the slot, the run's set of slots, the
// run's archive. ARGV: member, payload, unless ("" none), the slot's key.
var putSlotScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then return 'archived' end
if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[4])
  return 'marked'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return 'ok'`)

// slotsScriptPart removes the slots of a run from a script: ARGV[n] is
// the prefix of the slots' hashes (slotPrefix), KEYS[m] the run's set.
func slotsScriptPart(keyIdx, argIdx string) string {
	return `
for _, k in ipairs(redis.call('SMEMBERS', KEYS[` + keyIdx + `])) do redis.call('DEL', ARGV[` + argIdx + `] .. k) end
redis.call('DEL', KEYS[` + keyIdx + `])`
}

// slotSet is the key of run id's set of slots; slotPrefix the prefix of
// its slots' hashes.
func (r *Redis) slotSet(id string) string    { return r.key("slots", id) }
func (r *Redis) slotPrefix(id string) string { return r.key("signals", id+"/") }

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
