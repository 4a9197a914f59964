package masking

import (
	"encoding/binary"
	"slices"
)

// Re-masking what is stored.
//
// A run stores masked forms (task inputs and outputs, variables, log lines)
// and goes on registering values: an UPDATE_SECRET, a `_secrets` leaf of a
// task output, one value per loop iteration. Each stored form must then be
// masked again with the new values — but masking every stored form after
// each new value costs the whole run's bytes per value, O(n²) for a loop
// that registers a value per iteration. ContainsAny avoids the rewrite, not
// the pass over every form.
//
// An Index avoids the pass. It keeps, for every stored text, the 4-byte
// pieces ("grams") of every text the Masker scans when masking it: the text
// itself, each string of a JSON document decoded, and every decoded view of
// either (decode.go: JSON, HTML and URL escapes undone up to three levels,
// base64 joined across line breaks). A pattern the Masker finds in a text
// lies whole in one of those scanned texts, so every one of its grams is
// among the text's: the texts that hold a pattern's rarest gram are a
// superset of those that hold the pattern. Candidates lists them for the
// patterns registered since a point; only those are masked again. A pattern
// shorter than a gram (WithMinLength below 4) makes every text a candidate.
//
// The grams live in one hash table of postings (gram, text, version) with
// chains through a flat array that holds no pointers, so the garbage
// collector does not walk it — except those of large texts and of the
// first few texts, each kept as a Bloom filter (indexbloom.go). A text set again or deleted bumps its
// version: its old postings are skipped, and dropped by a compaction once
// they outnumber the live ones, so the memory stays proportional to the
// grams of the texts currently indexed (at most a few per stored byte).

// gramLen is the length of the pieces an Index keeps.
const gramLen = 4

// Index tells which of a set of stored texts, each already masked, may hold
// a pattern registered with a Masker since a given Len: the only texts that
// masking again could change. It never leaves out a text that Mask or
// MaskCut (SetText), MaskJSON or MaskCutJSON (SetJSON) would change because
// of those patterns; it may list texts that none would change.
//
// Keys name the texts (a record id, a pointer to a record and a field).
// The texts are not kept, only their grams. An Index is not safe for
// concurrent use; the Masker it reads may be registered into concurrently.
type Index[K comparable] struct {
	m     *Masker
	slots map[K]int32
	recs  []indexRec[K]
	free  []int32

	arena  []posting // postings; a chain runs from the newest to the oldest
	heads  []int32   // bucket → index+1 of its newest posting, 0: empty
	counts []int32   // bucket → postings in its chain (live or stale)
	shift  uint      // 64 - log2(len(heads))
	live   int       // postings of the texts' current versions
	stale  int       // postings of replaced or deleted versions

	mark   []uint32 // slot → the Candidates call that last listed it
	epoch  uint32
	cuts   int     // live texts holding a cut mark (indexcut.go)
	bigs   []int32 // slots of the texts kept as Bloom filters: large ones and the first few (indexbloom.go)
	smalls int     // of those, the small ones
	small  int     // how many small texts may be filters: smallTexts (tests lower it)
	cut    bool    // scratch: the text being set holds one

	grams []uint32 // scratch: the grams of the text being set
	walk  []byte   // scratch: the JSON walker's copy
}

type indexRec[K comparable] struct {
	key   K
	ver   uint32
	grams int32 // postings of the current version; -1: the slot is free
	cut   bool  // the text holds a cut mark: listed by a new pattern's first gram too
	// bloom holds the grams of a text kept as a Bloom filter, which has
	// no postings (indexbloom.go); bigAt is its place in Index.bigs, small
	// that it is one of the first few texts rather than a large one.
	bloom gramBloom
	bigAt int32
	small bool
}

type posting struct {
	gram uint32
	slot int32
	ver  uint32
	next int32 // index+1 of the next older posting in the bucket, 0: none
}

// minIndexBuckets is the smallest hash table; compaction waits until at
// least this many postings are stale.
const minIndexBuckets = 1 << 10

// NewIndex returns an empty Index of texts masked by m. It allocates its
// hash table with the first text it keeps as postings (indexbloom.go: the
// first few are Bloom filters).
func NewIndex[K comparable](m *Masker) *Index[K] {
	return &Index[K]{m: m, slots: map[K]int32{}, small: smallTexts}
}

// Len reports how many texts are indexed.
func (x *Index[K]) Len() int { return len(x.slots) }

// SetText indexes text under key, replacing what key held, as Mask scans
// it: the text and its decoded views.
func (x *Index[K]) SetText(key K, text []byte) {
	x.grams = x.grams[:0]
	x.cut = holdsCutMark(text)
	x.addScanned(text)
	x.store(key)
}

// SetJSON indexes doc under key, replacing what key held, as MaskJSON
// scans it: the document and its decoded views, and each string (object
// keys too) decoded, with its views. A doc that is not valid JSON, which
// MaskJSON refuses, is indexed as a text.
func (x *Index[K]) SetJSON(key K, doc []byte) {
	x.grams = x.grams[:0]
	x.cut = holdsCutMark(doc)
	x.addScanned(doc)
	w := walker{src: doc, out: x.walk[:0]}
	w.str = func(_ *walker, raw []byte, escaped bool) {
		switch {
		case escaped:
			x.addScanned(unescape(raw))
		case mayHaveViews(raw):
			// The grams of raw itself are the document's; its views
			// are its own (an escape cannot run past its quotes).
			x.addScanned(raw)
		}
	}
	_ = w.document() // not JSON: indexed as a text above
	if cap(w.out) <= 64<<10 {
		x.walk = w.out[:0]
	}
	x.store(key)
}

// Delete forgets key's text.
func (x *Index[K]) Delete(key K) {
	slot, ok := x.slots[key]
	if !ok {
		return
	}
	delete(x.slots, key)
	r := &x.recs[slot]
	x.live -= int(r.grams)
	x.stale += int(r.grams)
	if r.cut {
		x.cuts--
	}
	x.dropBig(slot)
	var zero K
	r.key, r.grams, r.cut = zero, -1, false
	r.ver++
	x.free = append(x.free, slot)
	x.maybeCompact()
}

// Candidates appends to dst the keys of the texts that may hold a pattern
// registered with the Masker after its Len returned since, each once, and
// returns the extended slice. Every text must have been masked by the
// Masker when its Len was since or more (a text masked earlier may also
// hold patterns registered before since, which Candidates does not look
// for). Its cost is the length of the new patterns plus the postings of
// each one's rarest gram (and first gram, when a text holds a cut mark)
// plus a filter test per text kept as a Bloom filter (the large ones and
// at most smallTexts others), not the size of what is indexed.
func (x *Index[K]) Candidates(since int, dst []K) []K {
	pats := x.m.patternsSince(since)
	if len(pats) == 0 || len(x.slots) == 0 {
		return dst
	}
	x.epoch++
	if x.epoch == 0 {
		clear(x.mark)
		x.epoch = 1
	}
	for _, p := range pats {
		if len(p) < gramLen {
			return x.all(dst)
		}
		if len(x.bigs) > 0 {
			dst = x.listBig(p, dst)
		}
		if x.heads == nil {
			continue // no postings yet: every text is a Bloom filter
		}
		best, bestN := uint32(0), int32(-1)
		for i := 0; i+gramLen <= len(p); i++ {
			g := uint32(p[i]) | uint32(p[i+1])<<8 | uint32(p[i+2])<<16 | uint32(p[i+3])<<24
			n := x.counts[x.bucket(g)]
			if bestN < 0 || n < bestN {
				best, bestN = g, n
				if n == 0 {
					break // no text holds this gram, so none holds p
				}
			}
		}
		if x.cuts > 0 {
			// A cut text may end with p's head only (indexcut.go).
			if x.m.minLen < gramLen {
				dst = x.allCut(dst)
			} else {
				dst = x.list(binary.LittleEndian.Uint32([]byte(p[:gramLen])), true, dst)
			}
		}
		if bestN == 0 {
			continue
		}
		dst = x.list(best, false, dst)
	}
	return dst
}

// list appends the keys of the texts holding gram g (only the cut ones
// when onlyCut) not listed yet by the current Candidates call.
func (x *Index[K]) list(g uint32, onlyCut bool, dst []K) []K {
	for e := x.heads[x.bucket(g)]; e != 0; {
		ps := &x.arena[e-1]
		e = ps.next
		if ps.gram != g {
			continue
		}
		r := &x.recs[ps.slot]
		if r.ver != ps.ver || r.grams < 0 || x.mark[ps.slot] == x.epoch || (onlyCut && !r.cut) {
			continue
		}
		x.mark[ps.slot] = x.epoch
		dst = append(dst, r.key)
	}
	return dst
}

// allCut appends every cut text's key not listed yet.
func (x *Index[K]) allCut(dst []K) []K {
	for slot := range x.recs {
		r := &x.recs[slot]
		if r.grams >= 0 && r.cut && x.mark[slot] != x.epoch {
			x.mark[slot] = x.epoch
			dst = append(dst, r.key)
		}
	}
	return dst
}

// all appends every key not listed yet by the current Candidates call.
func (x *Index[K]) all(dst []K) []K {
	for slot := range x.recs {
		r := &x.recs[slot]
		if r.grams >= 0 && x.mark[slot] != x.epoch {
			x.mark[slot] = x.epoch
			dst = append(dst, r.key)
		}
	}
	return dst
}

// addScanned adds the grams of b and of each of its decoded views: what
// the Masker's scan of b reads (matcher.scan).
func (x *Index[K]) addScanned(b []byte) {
	x.addGrams(b)
	if !mayHaveViews(b) {
		return
	}
	for _, v := range views(b) {
		x.addGrams(v.b)
	}
}

func (x *Index[K]) addGrams(b []byte) {
	for i := 0; i+gramLen <= len(b); i++ {
		x.grams = append(x.grams, binary.LittleEndian.Uint32(b[i:]))
	}
}

// store keeps the grams gathered in x.grams (repeated, in no order) as
// key's current version: as postings, or as a Bloom filter for a large text
// and for the first few texts (indexbloom.go).
func (x *Index[K]) store(key K) {
	slot, ok := x.slots[key]
	if ok {
		r := &x.recs[slot]
		x.live -= int(r.grams)
		x.stale += int(r.grams)
		if r.cut {
			x.cuts--
		}
		x.dropBig(slot)
		r.ver++
	} else {
		if n := len(x.free); n > 0 {
			slot, x.free = x.free[n-1], x.free[:n-1]
		} else {
			slot = int32(len(x.recs))
			x.recs = append(x.recs, indexRec[K]{})
			x.mark = append(x.mark, 0)
		}
		x.slots[key] = slot
		x.recs[slot].ver++
		x.recs[slot].key = key
	}
	r := &x.recs[slot]
	r.cut = x.cut
	if r.cut {
		x.cuts++
	}
	grams := x.grams
	if len(grams) > bigTextGrams {
		slices.Sort(grams)
		grams = slices.Compact(grams)
	}
	switch {
	case len(grams) > bigTextGrams:
		x.keepBloom(slot, grams, false)
	case x.smalls < x.small:
		// No sort: a Bloom filter takes a gram twice as once.
		x.keepBloom(slot, grams, true)
	default:
		x.post(slot, grams)
	}
	if cap(x.grams) > 64<<10 {
		x.grams = nil
	}
	x.maybeCompact()
}

// post adds a posting for each distinct gram in grams to slot's current
// version. A repeated gram is found at the head of its bucket's chain:
// the postings of the version being added are the newest of every chain.
func (x *Index[K]) post(slot int32, grams []uint32) {
	if x.heads == nil {
		x.resize(minIndexBuckets)
	}
	r := &x.recs[slot]
	n := int32(0)
next:
	for _, g := range grams {
		b := x.bucket(g)
		for e := x.heads[b]; e != 0; {
			p := &x.arena[e-1]
			if p.slot != slot || p.ver != r.ver {
				break
			}
			if p.gram == g {
				continue next
			}
			e = p.next
		}
		x.arena = append(x.arena, posting{gram: g, slot: slot, ver: r.ver, next: x.heads[b]})
		x.heads[b] = int32(len(x.arena))
		x.counts[b]++
		n++
	}
	r.grams = n
	x.live += int(n)
	if len(x.arena) > 2*len(x.heads) {
		x.resize(2 * len(x.heads))
	}
}

func (x *Index[K]) bucket(g uint32) uint64 {
	return (uint64(g) * 0x9e3779b97f4a7c15) >> x.shift
}

// maybeCompact drops the stale postings once they outnumber the live ones:
// each posting is copied at most once per posting added or made stale, so
// the cost is amortised over the Set and Delete calls.
func (x *Index[K]) maybeCompact() {
	if x.stale < minIndexBuckets || x.stale <= x.live {
		return
	}
	kept := x.arena[:0]
	for _, p := range x.arena {
		if r := &x.recs[p.slot]; r.ver == p.ver && r.grams >= 0 {
			kept = append(kept, p)
		}
	}
	clear(x.arena[len(kept):])
	x.arena, x.stale = kept, 0
	n := minIndexBuckets
	for n < len(kept)/2 {
		n *= 2
	}
	if len(x.arena) < cap(x.arena)/4 {
		x.arena = slices.Clip(slices.Clone(x.arena))
	}
	x.resize(n)
}

// resize makes a table of n buckets (a power of two) and links the
// postings into it, oldest first so that each chain runs newest first.
func (x *Index[K]) resize(n int) {
	if n == len(x.heads) {
		clear(x.heads)
		clear(x.counts)
	} else {
		x.heads = make([]int32, n)
		x.counts = make([]int32, n)
	}
	bits := uint(0)
	for 1<<bits < n {
		bits++
	}
	x.shift = 64 - bits
	for i := range x.arena {
		p := &x.arena[i]
		b := x.bucket(p.gram)
		p.next = x.heads[b]
		x.heads[b] = int32(i + 1)
		x.counts[b]++
	}
}

// patternsSince returns the patterns registered after Len returned since.
func (m *Masker) patternsSince(since int) []string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	since = max(since, 0)
	n := len(m.patterns)
	if since >= n {
		return nil
	}
	// Capped: a later Register appends beyond it, never into it.
	return m.patterns[since:n:n]
}
