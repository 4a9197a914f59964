package masking

import (
	"encoding/binary"
	"math/bits"
)

// The fast scan.
//
// Walking the automaton costs two dependent memory reads per byte (the
// state, then its transition row), and with thousands of registered values
// those rows no longer fit in cache. Most positions of a text start no
// pattern at all, and that is cheap to know: every pattern is at least w
// bytes long (w = min(shortest pattern, 4)), so a bit set indexed by a hash
// of the first w bytes of every pattern rejects a position with one read
// from a table of 2 bytes a pattern (16 bits a pattern, at most one in 16
// set), which stays in cache. Only at the positions it lets through does
// the scan walk the trie from the root (goto transitions, no failure links)
// to find the longest pattern starting there.
//
// A hostile text can make those walks long (the prefix of a long pattern,
// repeated), so they share a budget proportional to the text; past it the
// scan starts over with the Aho–Corasick pass, which is linear whatever the
// text. Both produce the same ranges: the union of all occurrences, merged.

type prefilter struct {
	w     int
	shift uint // 64 - log2(bits)
	bits  []uint64

	// Sampling: when every pattern is at least w+step-1 bytes long, every
	// occurrence holds, at one of its first step offsets, a text position
	// that is a multiple of step. grams has a bit for each w-byte piece at
	// offsets 0..step-1 of every pattern, so the scan probes only every
	// step-th position and checks the step positions before a hit.
	step       int
	gramsShift uint
	grams      []uint64
}

// Sampling sizes: at most maxStep offsets, and a grams table of at most
// maxGramBits bits at gramBitsPer bits an entry (the step shrinks for large
// dictionaries so the table stays in cache and mostly empty).
const (
	maxStep     = 16
	maxGramBits = 1 << 22
	gramBitsPer = 8
)

func prefixKey(b []byte, w int) uint32 {
	if w == 4 {
		return binary.LittleEndian.Uint32(b)
	}
	k := uint32(0)
	for i := 0; i < w; i++ {
		k |= uint32(b[i]) << (8 * i)
	}
	return k
}

func setBit(bits []uint64, shift uint, key uint32) {
	h := hashKey(key) >> shift
	bits[h>>6] |= 1 << (h & 63)
}

func hasBit(bits []uint64, shift uint, key uint32) bool {
	h := hashKey(key) >> shift
	return bits[h>>6]&(1<<(h&63)) != 0
}

// bitTable returns a table of at least n bits (a power of two, at least
// 512) and its shift.
func bitTable(n int) ([]uint64, uint) {
	size := max(512, 1<<bits.Len(uint(n)))
	return make([]uint64, size/64), uint(64 - bits.TrailingZeros(uint(size)))
}

func newPrefilter(patterns []string) prefilter {
	if len(patterns) == 0 {
		return prefilter{}
	}
	shortest := len(patterns[0])
	for _, p := range patterns {
		shortest = min(shortest, len(p))
	}
	f := prefilter{w: min(shortest, 4)}
	f.bits, f.shift = bitTable(16 * len(patterns))
	for _, p := range patterns {
		setBit(f.bits, f.shift, prefixKey([]byte(p[:f.w]), f.w))
	}
	f.step = min(shortest-f.w+1, maxStep, maxGramBits/(gramBitsPer*len(patterns)))
	if f.step > 1 {
		f.grams, f.gramsShift = bitTable(gramBitsPer * f.step * len(patterns))
		for _, p := range patterns {
			for o := 0; o < f.step; o++ {
				setBit(f.grams, f.gramsShift, prefixKey([]byte(p[o:o+f.w]), f.w))
			}
		}
	}
	return f
}

// walkBudget is how many trie steps per text byte the fast scan may take
// before it gives way to the Aho–Corasick pass.
const walkBudget = 4

// spans appends to dst the merged ranges of every pattern occurrence in b,
// sorted and disjoint.
func (a *automaton) spans(b []byte, dst []span) []span {
	if a == nil || len(a.states) <= 1 {
		return dst
	}
	f := &a.pre
	w := f.w
	if w == 0 || len(b) < w {
		return dst
	}
	base := len(dst)
	budget := walkBudget*len(b) + 64
	ok := true
	if f.step > 1 {
		step := f.step
		for j := 0; j+w <= len(b); j += step {
			if !hasBit(f.grams, f.gramsShift, prefixKey(b[j:], w)) {
				continue
			}
			for i := max(j-step+1, 0); i <= j; i++ {
				if dst, ok = a.at(b, i, dst, base, &budget); !ok {
					return a.spansAC(b, dst[:base])
				}
			}
		}
		return dst
	}
	for i := 0; i+w <= len(b); i++ {
		if dst, ok = a.at(b, i, dst, base, &budget); !ok {
			return a.spansAC(b, dst[:base])
		}
	}
	return dst
}

// at adds the longest pattern starting at b[i:], if any, to the ranges in
// dst[base:] (which end before i or reach it, and merge with it). It
// reports false when the walks have used up budget.
func (a *automaton) at(b []byte, i int, dst []span, base int, budget *int) ([]span, bool) {
	f := &a.pre
	if !hasBit(f.bits, f.shift, prefixKey(b[i:], f.w)) {
		return dst, true
	}
	end := 0
	s := int32(0)
	for j := i; j < len(b); j++ {
		t := a.child(s, b[j])
		if t < 0 {
			break
		}
		s = t
		*budget--
		if int(a.hot[s].out) == j+1-i { // s ends a pattern (not only a suffix of one)
			end = j + 1
		}
		if o := a.only[s]; o >= 0 {
			// One pattern below: compare the rest of it at once.
			p := a.sorted[o]
			*budget -= len(p) / 16
			if len(p) <= len(b)-i && string(b[j+1:i+len(p)]) == p[j+1-i:] {
				end = i + len(p)
			}
			break
		}
	}
	if *budget < 0 {
		return dst, false
	}
	if end == 0 {
		return dst, true
	}
	if n := len(dst); n > base && i <= dst[n-1].end {
		dst[n-1].end = max(dst[n-1].end, end)
	} else {
		dst = append(dst, span{i, end})
	}
	return dst, true
}

// child is the goto transition: the child of s labelled c, or -1.
func (a *automaton) child(s int32, c byte) int32 {
	cl := a.class[c]
	if cl == 0 {
		return -1
	}
	st := &a.states[s]
	if r := a.hot[s].row; r >= 0 {
		// The dense row has failure transitions folded in: a child is
		// one of s's own, which are contiguous.
		t := a.dense[int(r)+int(cl)]
		if t >= st.first && t < st.first+st.count {
			return t
		}
		return -1
	}
	for i, l := range a.labels[st.first : st.first+st.count] {
		if l == c {
			return st.first + int32(i)
		}
		if l > c {
			break
		}
	}
	return -1
}
