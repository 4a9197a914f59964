package masking

import (
	"math/bits"
	"unsafe"
)

// Large texts.
//
// A posting costs 16 bytes per distinct gram of a text, and a text such as
// a base64 blob has nearly as many distinct grams as bytes, and as many
// again in its decoded view: 1 MiB of base64 output would hold some 28 MB
// of postings for the life of the run. A text with more than bigTextGrams
// distinct grams is kept as a Bloom filter of its grams instead, about 10
// bits a gram: Candidates tests each large text for all the grams of each
// new pattern (no false negative: a text holding the pattern holds every
// one of its grams, so it is never left out; a false positive only lists a
// text that masking again leaves as it is). Large texts are few — each is
// at least bigTextGrams long — so testing each of them costs little next
// to what storing and masking them cost.

// bigTextGrams is the number of distinct grams above which a text is kept
// as a Bloom filter rather than as postings (a variable: tests lower it).
var bigTextGrams = 1 << 14

// Small indexes.
//
// An index of a short run — a few dozen stored forms of a hundred bytes —
// would pay more for its postings (16 bytes a gram, a table of 1 024
// buckets, the grams sorted to drop repeats) than masking every form again
// costs. The first smallTexts texts are kept as Bloom filters instead:
// built from the grams as they come, repeats and all, with no table.
// Candidates tests each of them (a few probes a pattern, most stopping at
// the first gram); the texts beyond them go to postings, so that what a
// new pattern costs stays bounded however many texts there are. A text
// set again stays a filter while fewer than smallTexts are.
const smallTexts = 32

// keepBloom keeps grams (repeats allowed) as slot's Bloom filter; small:
// counted among the first few texts rather than the large ones.
func (x *Index[K]) keepBloom(slot int32, grams []uint32, small bool) {
	r := &x.recs[slot]
	r.grams, r.bloom, r.bigAt, r.small = 0, newGramBloom(grams), int32(len(x.bigs)), small
	x.bigs = append(x.bigs, slot)
	if small {
		x.smalls++
	}
}

// bloomHashes is the number of bits a gram sets.
const bloomHashes = 4

// gramBloom is a Bloom filter of a text's grams: a power-of-two number of
// bits.
type gramBloom struct {
	bits []uint64
	mask uint64 // number of bits - 1
}

func newGramBloom(grams []uint32) gramBloom {
	n := uint64(len(grams)) * 10
	size := uint64(1) << bits.Len64(max(n, 64)-1) // a power of two ≥ n
	b := gramBloom{bits: make([]uint64, size/64), mask: size - 1}
	for _, g := range grams {
		h1, h2 := gramHashes(g)
		for i := uint64(0); i < bloomHashes; i++ {
			bit := (h1 + i*h2) & b.mask
			b.bits[bit>>6] |= 1 << (bit & 63)
		}
	}
	return b
}

// gramHashes derives two hashes of g (double hashing); h2 is odd.
func gramHashes(g uint32) (h1, h2 uint64) {
	h := uint64(g) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return h, (h>>32 | h<<32) | 1
}

func (b *gramBloom) has(g uint32) bool {
	h1, h2 := gramHashes(g)
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) & b.mask
		if b.bits[bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}

// hasAll reports whether every gram of p may be in the text.
func (b *gramBloom) hasAll(p string) bool {
	for i := 0; i+gramLen <= len(p); i++ {
		if !b.has(gramOf(p, i)) {
			return false
		}
	}
	return true
}

func gramOf(p string, i int) uint32 {
	return uint32(p[i]) | uint32(p[i+1])<<8 | uint32(p[i+2])<<16 | uint32(p[i+3])<<24
}

// listBig appends the keys of the texts kept as filters that may hold p (or, for a
// cut text, p's head) and are not listed yet by the current Candidates
// call.
func (x *Index[K]) listBig(p string, dst []K) []K {
	for _, slot := range x.bigs {
		r := &x.recs[slot]
		if x.mark[slot] == x.epoch {
			continue
		}
		hit := r.bloom.hasAll(p)
		if !hit && r.cut {
			hit = x.m.minLen < gramLen || r.bloom.has(gramOf(p, 0))
		}
		if hit {
			x.mark[slot] = x.epoch
			dst = append(dst, r.key)
		}
	}
	return dst
}

// dropBig forgets the Bloom filter of slot's text, if it has one.
func (x *Index[K]) dropBig(slot int32) {
	r := &x.recs[slot]
	if r.bloom.bits == nil {
		return
	}
	if r.small {
		x.smalls--
	}
	r.bloom, r.small = gramBloom{}, false
	i := r.bigAt
	last := x.bigs[len(x.bigs)-1]
	x.bigs[i] = last
	x.recs[last].bigAt = i
	x.bigs = x.bigs[:len(x.bigs)-1]
}

// footprint is an estimate of the bytes the index holds: its postings,
// its table, its records and its Bloom filters.
func (x *Index[K]) footprint() int {
	n := cap(x.arena)*16 + cap(x.heads)*4 + cap(x.counts)*4 + cap(x.mark)*4 + cap(x.bigs)*4
	n += cap(x.recs) * int(unsafe.Sizeof(indexRec[K]{}))
	for _, slot := range x.bigs {
		n += cap(x.recs[slot].bloom.bits) * 8
	}
	return n
}
