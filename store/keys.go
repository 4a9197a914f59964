package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wfrun/wfrun/store/seal"
)

// Key safety. The m/keys record holds the ids of the keys the store's
// records are sealed with, sealed itself. A process whose keyring cannot
// open it is refused at open, before it writes anything, so a second master
// key never joins a store by accident (a second home on a shared Redis, a
// mistyped WFRUN_MASTER_KEY); a keyring that can open it (the store's key is
// a previous one) may read but not write until Rekey moves the store to the
// new primary key.

type keysRecord struct {
	Keys []string `json:"keys"`
}

// keyState is what the barrier last read of m/keys.
type keyState struct {
	ids  []string
	data []byte
}

func (b *barrier) sealKeys(ids []string) ([]byte, error) {
	pt, err := json.Marshal(keysRecord{Keys: ids})
	if err != nil {
		return nil, err
	}
	return b.ring.Seal(pt, recordAAD(keysKey))
}

// checkKeys reads m/keys (creating it in an empty store) and refuses a
// keyring that does not hold the store's key.
func (b *barrier) checkKeys(ctx context.Context) error {
	for range 5 {
		got, err := b.st.Get(ctx, keysKey)
		if err != nil {
			return err
		}
		if got[0] == nil {
			ids := []string{b.ring.KeyID()}
			data, err := b.sealKeys(ids)
			if err != nil {
				return err
			}
			err = b.st.Commit(ctx, []Cond{{keysKey, nil}}, []Write{{keysKey, data}})
			if errors.Is(err, ErrConflict) {
				continue // another process created the store first
			}
			if err != nil {
				return err
			}
			b.setKeys(keyState{ids: ids, data: data})
			return nil
		}
		pt, err := b.ring.Open(got[0], recordAAD(keysKey))
		if errors.Is(err, seal.ErrUnknownKey) {
			id, _ := seal.KeyIDOf(got[0])
			return fmt.Errorf("%w: %s was written with master key %s, this process has %s; every process sharing a store needs the same WFRUN_MASTER_KEY (or master.key); to change keys, put the old key in WFRUN_MASTER_KEY_PREVIOUS and run `wfrun secret rekey`",
				ErrWrongKey, b.where, id, b.ring.KeyID())
		}
		if err != nil {
			return fmt.Errorf("%w: %s record %q was edited; restore the store from a backup", ErrIntegrity, b.where, keysKey)
		}
		var kr keysRecord
		if err := json.Unmarshal(pt, &kr); err != nil || len(kr.Keys) == 0 {
			return fmt.Errorf("%w: %s record %q is malformed; restore the store from a backup", ErrIntegrity, b.where, keysKey)
		}
		b.setKeys(keyState{ids: kr.Keys, data: got[0]})
		return nil
	}
	return fmt.Errorf("%w: %s: the key record keeps changing", ErrUnavailable, b.where)
}

func (b *barrier) setKeys(k keyState) {
	b.mu.Lock()
	b.keys = k
	b.mu.Unlock()
}

func (b *barrier) keyState() keyState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.keys
}

// writable refuses writes sealed under a key the store does not hold, and
// returns the condition every write commits under: m/keys unchanged (a
// concurrent rekey makes the write fail and be retried after a re-check).
func (b *barrier) writable() (Cond, error) {
	k := b.keyState()
	if !slices.Contains(k.ids, b.ring.KeyID()) {
		return Cond{}, fmt.Errorf("%w: %s is sealed under master key %s, but this process's primary key is %s; run `wfrun secret rekey` (with the old key in WFRUN_MASTER_KEY_PREVIOUS or master.key) before writing, so the store never holds two keys",
			ErrWrongKey, b.where, strings.Join(k.ids, ", "), b.ring.KeyID())
	}
	return Cond{keysKey, k.data}, nil
}

// refresh re-reads m/keys after a write lost a race; it fails when the
// store moved to a key this process does not hold.
func (b *barrier) refresh(ctx context.Context) error {
	if err := b.checkKeys(ctx); err != nil {
		return err
	}
	_, err := b.writable()
	return err
}

// Rekey implements Rekeyer: every record is opened and sealed again under
// the keyring's primary key, and m/keys is set to that key alone, in one
// commit (all or nothing). A Compactor then drops the old bytes, so no
// ciphertext under the old key is left. It returns how many secret records
// (current and kept versions) it rewrote.
func (s *Barrier) Rekey(ctx context.Context) (int, error) {
	b := s.sh
	if err := b.checkKeys(ctx); err != nil {
		return 0, err
	}
	k := b.keyState()
	keys, err := b.st.List(ctx, "", "", 0)
	if err != nil {
		return 0, err
	}
	var sealedKeys []string
	for _, key := range keys {
		if strings.HasPrefix(key, kindCurrent+"/") || strings.HasPrefix(key, kindVersion+"/") || key == auditHeadKey {
			sealedKeys = append(sealedKeys, key)
		}
	}
	var got [][]byte
	if len(sealedKeys) > 0 {
		if got, err = b.st.Get(ctx, sealedKeys...); err != nil {
			return 0, err
		}
	}
	conds := []Cond{{keysKey, k.data}}
	var writes []Write
	n := 0
	for i, key := range sealedKeys {
		if got[i] == nil || !b.ring.NeedsRekey(got[i]) {
			continue
		}
		pt, err := b.ring.Open(got[i], recordAAD(key))
		if err != nil {
			if errors.Is(err, seal.ErrUnknownKey) {
				id, _ := seal.KeyIDOf(got[i])
				return 0, fmt.Errorf("rekey: %w: record %q is sealed under key %s, which this process does not hold; nothing was changed", ErrWrongKey, key, id)
			}
			return 0, fmt.Errorf("rekey: %w: record %q does not open; nothing was changed", ErrIntegrity, key)
		}
		c, err := b.ring.Seal(pt, recordAAD(key))
		clear(pt)
		if err != nil {
			return 0, err
		}
		conds = append(conds, Cond{key, got[i]})
		writes = append(writes, Write{key, c})
		if key != auditHeadKey {
			n++
		}
	}
	ids := []string{b.ring.KeyID()}
	kdata, err := b.sealKeys(ids)
	if err != nil {
		return 0, err
	}
	writes = append(writes, Write{keysKey, kdata})
	if err := b.st.Commit(ctx, conds, writes); err != nil {
		if errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("rekey: %w: the store changed during the rekey; nothing was changed, run it again", ErrConflict)
		}
		return 0, err
	}
	b.setKeys(keyState{ids: ids, data: kdata})
	b.audit.record(ctx, AuditEvent{Op: OpRekey, Outcome: OutcomeAllowed})
	return n, b.compact(ctx)
}

// KeyIDs returns the ids of the keys the store's records are sealed with.
func (s *Barrier) KeyIDs() []string { return slices.Clone(s.sh.keyState().ids) }
