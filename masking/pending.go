package masking

import (
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

// pendStep is the sampling step of the pending set's long table: patterns
// of at least w+pendStep-1 bytes are found by probing every pendStep-th
// position (as the automaton's prefilter does), shorter ones by probing
// every position.
const pendStep = 8

type pendingSet struct {
	w           int
	short, long *pendTable
	gramsShift  uint
	grams       []atomic.Uint64 // w-byte pieces at offsets 0..pendStep-1 of the long patterns

	// scanned counts bytes masked while the set was not empty; past
	// compactAfter, the extra work has cost about one rebuild, and Mask
	// starts one in the background (see Masker.noteScan).
	scanned      atomic.Int64
	compactAfter int64
}

// pendTable is an append-only hash table of patterns by their first w
// bytes, behind a bit filter.
type pendTable struct {
	shift  uint            // 64 - log2(len(heads))
	fshift uint            // 64 - log2(bits in filter)
	filter []atomic.Uint64 // one bit per hash prefix: set when a pattern has it
	heads  []atomic.Int32  // bucket → index+1 of the newest pattern in it; 0: empty
	next   []int32         // pattern → index+1 of the next older pattern in its bucket
	keys   []uint32        // pattern → its first w bytes
	pats   []string
	n      int // patterns added; written only by Register (under Masker.mu)
}

// compactFactor: a rebuild costs roughly as much as scanning this many
// bytes of text per byte of pattern with a pending set beside the automaton.
const compactFactor = 32

// newPendingSet returns an empty set for up to capacity patterns of at
// least w bytes (1 <= w <= 4), next to an automaton of patternBytes.
func newPendingSet(w, capacity, patternBytes int) *pendingSet {
	p := &pendingSet{
		w:            w,
		short:        newPendTable(capacity),
		long:         newPendTable(capacity),
		compactAfter: int64(compactFactor) * int64(max(patternBytes, 1024)),
	}
	size := max(512, 1<<bits.Len(uint(gramBitsPer*pendStep*capacity)))
	p.grams = make([]atomic.Uint64, size/64)
	p.gramsShift = uint(64 - bits.TrailingZeros(uint(size)))
	return p
}

func newPendTable(capacity int) *pendTable {
	// The filter (16 bits a pattern, at most one set in 16, 2 bytes a
	// pattern so it stays in cache) rejects almost every position with one
	// load; the bucket table behind it is only read on a filter hit.
	size := max(64, 1<<bits.Len(uint(2*capacity)))
	fbits := max(512, 1<<bits.Len(uint(16*capacity)))
	return &pendTable{
		shift:  uint(64 - bits.TrailingZeros(uint(size))),
		fshift: uint(64 - bits.TrailingZeros(uint(fbits))),
		filter: make([]atomic.Uint64, fbits/64),
		heads:  make([]atomic.Int32, size),
		next:   make([]int32, capacity),
		keys:   make([]uint32, capacity),
		pats:   make([]string, capacity),
	}
}

func (p *pendingSet) len() int { return p.short.n + p.long.n }

func hashKey(k uint32) uint64 { return uint64(k) * 0x9E3779B97F4A7C15 }

func atomicSetBit(bits []atomic.Uint64, shift uint, k uint32) {
	h := hashKey(k) >> shift
	bits[h>>6].Or(1 << (h & 63))
}

func atomicHasBit(bits []atomic.Uint64, shift uint, k uint32) bool {
	h := hashKey(k) >> shift
	return bits[h>>6].Load()&(1<<(h&63)) != 0
}

// add appends pat (len(pat) >= p.w; fewer than capacity patterns added).
// Only Register calls it, holding the Masker's lock.
func (p *pendingSet) add(pat string) {
	w := p.w
	if len(pat) < w+pendStep-1 {
		p.short.add(pat, prefixKey([]byte(pat), w))
		return
	}
	// The pieces first: a reader that finds the pattern through the table
	// must also find its pieces.
	for o := 0; o < pendStep; o++ {
		atomicSetBit(p.grams, p.gramsShift, prefixKey([]byte(pat[o:o+w]), w))
	}
	p.long.add(pat, prefixKey([]byte(pat), w))
}

func (t *pendTable) add(pat string, k uint32) {
	i := t.n
	hk := hashKey(k)
	h := hk >> t.shift
	t.pats[i], t.keys[i] = pat, k
	t.next[i] = t.heads[h].Load()
	atomicSetBit(t.filter, t.fshift, k)
	t.heads[h].Store(int32(i + 1)) // publishes the entry to readers
	t.n++
}

// longestAt returns the end of the longest of the first n patterns that
// starts at b[i:] (whose first w bytes are k), or 0.
func (t *pendTable) longestAt(b []byte, i int, k uint32, n int32) int {
	if !atomicHasBit(t.filter, t.fshift, k) {
		return 0
	}
	e := t.heads[hashKey(k)>>t.shift].Load()
	for e > n {
		e = t.next[e-1] // added after this snapshot
	}
	end := 0
	for ; e != 0; e = t.next[e-1] {
		if t.keys[e-1] != k {
			continue
		}
		pat := t.pats[e-1]
		if len(pat) <= len(b)-i && i+len(pat) > end && string(b[i:i+len(pat)]) == pat {
			end = i + len(pat)
		}
	}
	return end
}

// pendView is a reader's snapshot of a pending set: the first nShort and
// nLong patterns of its tables (n in all).
type pendView struct {
	set           *pendingSet
	n             int
	nShort, nLong int32
}

// spans appends a range for every occurrence in b of a pattern in the
// view: two runs, each in order of start (ranges may overlap).
func (v *pendView) spans(b []byte, dst []span) []span {
	p := v.set
	if p == nil || v.n == 0 {
		return dst
	}
	w := p.w
	if v.nLong > 0 {
		for j := 0; j+w <= len(b); j += pendStep {
			if !atomicHasBit(p.grams, p.gramsShift, prefixKey(b[j:], w)) {
				continue
			}
			for i := max(j-pendStep+1, 0); i <= j; i++ {
				if end := p.long.longestAt(b, i, prefixKey(b[i:], w), v.nLong); end > 0 {
					dst = append(dst, span{i, end})
				}
			}
		}
	}
	if v.nShort > 0 {
		for i := 0; i+w <= len(b); i++ {
			if end := p.short.longestAt(b, i, prefixKey(b[i:], w), v.nShort); end > 0 {
				dst = append(dst, span{i, end})
			}
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
