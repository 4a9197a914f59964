package masking

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// Incremental registration.
//
// Building the automaton costs time linear in the patterns it holds, so
// rebuilding it on every registration makes registering N values one at a
// time quadratic. Instead, patterns registered since the last build go to a
// pending set, and the automaton is rebuilt (with everything) only when the
// pending set is as large as the automaton: the builds then double in size,
// their total cost is at most about twice the cost of the last one, and
// registering N values one at a time costs O(N log N) (the log is the sort
// inside each build).
//
// The pending set is matched in the same pass over the text, in time per
// byte that does not depend on how many patterns it holds: a hash of the
// first w bytes at each position (w = min(minimum length, 4), every pattern
// is at least that long) selects a bucket, almost always empty; a pattern
// in the bucket is compared only when its first w bytes are equal.
//
// Within one generation (between two builds) the set only grows, and its
// arrays are allocated at full capacity when the generation starts, so a
// reader holding a snapshot {set, n} reads patterns [0, n) while Register
// appends pattern n: entries are written before the bucket head that makes
// them reachable is stored atomically, and readers skip entries beyond n.

// minPendingCap is the smallest pending generation, in patterns: below it a
// rebuild is cheap anyway.
const minPendingCap = 64

type pendingSet struct {
	w      int
	shift  uint            // 64 - log2(len(heads))
	fshift uint            // 64 - log2(bits in filter)
	filter []atomic.Uint64 // one bit per hash prefix: set when a pattern has it
	heads  []atomic.Int32  // bucket → index+1 of the newest pattern in it; 0: empty
	next   []int32         // pattern → index+1 of the next older pattern in its bucket
	keys   []uint32        // pattern → its first w bytes
	pats   []string
	n      int // patterns added; written only by Register (under Masker.mu)

	// scanned counts bytes masked while the set was not empty; past
	// compactAfter, the extra work has cost about one rebuild, and Mask
	// starts one in the background (see Masker.noteScan).
	scanned      atomic.Int64
	compactAfter int64
}

// compactFactor: a rebuild costs roughly as much as scanning this many
// bytes of text per byte of pattern with a pending set beside the automaton.
const compactFactor = 32

// newPendingSet returns an empty set for up to capacity patterns of at
// least w bytes (1 <= w <= 4), next to an automaton of patternBytes.
func newPendingSet(w, capacity, patternBytes int) *pendingSet {
	// The filter (16 bits a pattern, at most one set in 16, 2 bytes a
	// pattern so it stays in cache) rejects almost every position with one
	// load; the bucket table behind it is only read on a filter hit.
	size := max(64, 1<<bits.Len(uint(2*capacity)))
	fbits := max(512, 1<<bits.Len(uint(16*capacity)))
	return &pendingSet{
		w:      w,
		shift:  uint(64 - bits.TrailingZeros(uint(size))),
		fshift: uint(64 - bits.TrailingZeros(uint(fbits))),
		filter: make([]atomic.Uint64, fbits/64),
		heads:  make([]atomic.Int32, size),
		next:   make([]int32, capacity),
		keys:   make([]uint32, capacity),
		pats:   make([]string, capacity),

		compactAfter: int64(compactFactor) * int64(max(patternBytes, 1024)),
	}
}

func (p *pendingSet) full() bool { return p.n == len(p.pats) }

func (p *pendingSet) key(b []byte) uint32 {
	if p.w == 4 {
		return binary.LittleEndian.Uint32(b)
	}
	k := uint32(0)
	for i := 0; i < p.w; i++ {
		k |= uint32(b[i]) << (8 * i)
	}
	return k
}

func hashKey(k uint32) uint64 { return uint64(k) * 0x9E3779B97F4A7C15 }

// add appends pat (len(pat) >= p.w; the set must not be full). Only
// Register calls it, holding the Masker's lock.
func (p *pendingSet) add(pat string) {
	i := p.n
	k := p.key([]byte(pat[:p.w]))
	hk := hashKey(k)
	h := hk >> p.shift
	p.pats[i], p.keys[i] = pat, k
	p.next[i] = p.heads[h].Load()
	p.heads[h].Store(int32(i + 1)) // publishes the entry to readers
	f := hk >> p.fshift
	p.filter[f>>6].Or(1 << (f & 63))
	p.n++
}

// pendView is a reader's snapshot of a pending set: its first n patterns.
type pendView struct {
	set *pendingSet
	n   int
}

// spans appends a range for every occurrence in b of a pattern in the
// view, in order of start (ranges may overlap).
func (v *pendView) spans(b []byte, dst []span) []span {
	p := v.set
	if p == nil || v.n == 0 {
		return dst
	}
	w := p.w
	n := int32(v.n)
	for i := 0; i+w <= len(b); i++ {
		k := p.key(b[i:])
		hk := hashKey(k)
		if f := hk >> p.fshift; p.filter[f>>6].Load()&(1<<(f&63)) == 0 {
			continue
		}
		e := p.heads[hk>>p.shift].Load()
		for e > n {
			e = p.next[e-1] // added after this snapshot
		}
		if e == 0 {
			continue
		}
		end := 0
		for ; e != 0; e = p.next[e-1] {
			if p.keys[e-1] != k {
				continue
			}
			pat := p.pats[e-1]
			if len(pat) <= len(b)-i && len(pat) > end-i && string(b[i:i+len(pat)]) == pat {
				end = i + len(pat)
			}
		}
		if end > 0 {
			dst = append(dst, span{i, end})
		}
	}
	return dst
}

// noteScan records that n bytes were masked with mt. While patterns are
// pending, masking does extra work per byte; once that adds up to about the
// cost of a rebuild, the automaton is rebuilt in the background with every
// pattern, so a run that registers a few values mid-run and then masks a
// lot pays the pending scan only for a bounded while. Mask never waits for
// it (it keeps its snapshot); Register waits while the rebuild holds the
// lock.
func (m *Masker) noteScan(mt *matcher, n int) {
	if mt == nil || mt.pend.n == 0 {
		return
	}
	p := mt.pend.set
	if p.scanned.Add(int64(n)) < p.compactAfter || !m.compacting.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer m.compacting.Store(false)
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.pend == p { // nothing rebuilt since
			m.rebuild()
		}
	}()
}
