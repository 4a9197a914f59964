package masking

import (
	"sync"
	"sync/atomic"
)

// idLen is the length of an id KeepID accepts: a UUID in its canonical
// lowercase 8-4-4-4-12 form, as the engine writes run and task ids.
const idLen = 36

// KeepID names id as an id the caller generated and shows as it is
// elsewhere (a run's workflowId): a registered value found only inside an
// occurrence of id is not masked there. It returns false, and keeps
// nothing, unless id is a lowercase UUID in the 8-4-4-4-12 form.
//
// Why: ids are random, so a short value (a 4-digit PIN) occurs inside one
// by chance, about one id in 2,000. Masked there, the id names nothing
// ("***-f4ed-…" is no run a client can follow), and since the same id is
// shown unmasked beside it (a record's subWorkflowId, the run's own
// workflowId), the masked copy marks exactly which characters of the id
// are the value: the masking itself would disclose it. An occurrence that
// reaches outside the id is masked whole as before, and so is every
// occurrence elsewhere; a value that is a whole UUID the caller did not
// keep is masked wherever it appears.
//
// Mask, MaskString, MaskError, MaskJSON, Excerpt and the Writer honour
// kept ids (the Writer when the whole id has reached it, else it masks);
// MaskFragments and MaskCut, which mask text cut from its context, and
// ContainsAny (which may then report a change that Mask does not make) do
// not.
func (m *Masker) KeepID(id string) bool {
	if m == nil || m.keep == nil || !isID([]byte(id)) {
		return false
	}
	m.keep.add(id)
	return true
}

// KeepIDsWhere is KeepID for ids a caller makes by a rule rather than one
// by one (wfrun's task ids carry their run's tag): a registered value
// found only inside an occurrence of a lowercase UUID that match accepts
// is not masked there. match sees the 36 bytes of the UUID only, must not
// keep them, and should accept only ids the caller made: what it accepts
// is shown as it is. Nil is ignored.
func (m *Masker) KeepIDsWhere(match func(id []byte) bool) {
	if m == nil || m.keep == nil || match == nil {
		return
	}
	m.keep.addRule(match)
}

// idSet is the ids a Masker keeps. Its snapshots (matchers) share it, so a
// kept id applies at once to every snapshot, whatever was registered
// since.
type idSet struct {
	n     atomic.Int32 // len(ids)+len(rules): the check costs nothing while it is 0
	mu    sync.RWMutex
	ids   map[string]struct{}
	rules []func(id []byte) bool
}

func (k *idSet) add(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ids == nil {
		k.ids = map[string]struct{}{}
	}
	k.ids[id] = struct{}{}
	k.n.Store(int32(min(len(k.ids)+len(k.rules), 1<<30)))
}

func (k *idSet) addRule(match func([]byte) bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rules = append(k.rules, match)
	k.n.Store(int32(min(len(k.ids)+len(k.rules), 1<<30)))
}

// has reports whether b, a lowercase UUID, is a kept id or one a rule
// accepts.
func (k *idSet) has(b []byte) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if _, ok := k.ids[string(b)]; ok {
		return true
	}
	for _, match := range k.rules {
		if match(b) {
			return true
		}
	}
	return false
}

// drop removes from sp, spans of b, each one that lies within an
// occurrence in b of a kept id, in place.
func (k *idSet) drop(b []byte, sp []span) []span {
	if k == nil || k.n.Load() == 0 || len(sp) == 0 {
		return sp
	}
	out := sp[:0]
	for _, s := range sp {
		if !k.covers(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// covers reports whether span s of b lies within an occurrence in b of a
// kept id: a window of idLen bytes of b holding s that is a kept id.
func (k *idSet) covers(b []byte, s span) bool {
	if s.end-s.start > idLen || s.start < 0 || s.end > len(b) {
		return false
	}
	for p := max(0, s.end-idLen); p <= s.start && p+idLen <= len(b); p++ {
		if w := b[p : p+idLen]; isID(w) && k.has(w) {
			return true
		}
	}
	return false
}

// isID reports whether b is a lowercase UUID in the 8-4-4-4-12 form.
func isID(b []byte) bool {
	if len(b) != idLen {
		return false
	}
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
