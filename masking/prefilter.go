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
}

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

func newPrefilter(patterns []string) prefilter {
	if len(patterns) == 0 {
		return prefilter{}
	}
	w := 4
	for _, p := range patterns {
		w = min(w, len(p))
	}
	n := max(512, 1<<bits.Len(uint(16*len(patterns))))
	f := prefilter{w: w, shift: uint(64 - bits.TrailingZeros(uint(n))), bits: make([]uint64, n/64)}
	for _, p := range patterns {
		h := hashKey(prefixKey([]byte(p[:w]), w)) >> f.shift
		f.bits[h>>6] |= 1 << (h & 63)
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
	for i := 0; i+w <= len(b); i++ {
		h := hashKey(prefixKey(b[i:], w)) >> f.shift
		if f.bits[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		end := 0
		s := int32(0)
		for j := i; j < len(b); j++ {
			t := a.child(s, b[j])
			if t < 0 {
				break
			}
			s = t
			if int(a.hot[s].out) == j+1-i { // s ends a pattern (not only a suffix of one)
				end = j + 1
			}
			budget--
		}
		if budget < 0 {
			return a.spansAC(b, dst[:base])
		}
		if end == 0 {
			continue
		}
		if n := len(dst); n > base && i <= dst[n-1].end {
			dst[n-1].end = max(dst[n-1].end, end)
		} else {
			dst = append(dst, span{i, end})
		}
	}
	return dst
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
