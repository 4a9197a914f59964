package masking

import (
	"sort"
	"strings"
)

// automaton is an immutable Aho–Corasick machine over bytes. It is built once
// from the full pattern set and never modified afterwards, so any number of
// goroutines may scan with it while Register builds its successor.
//
// Layout, chosen so that the per-byte cost stays flat as the dictionary
// grows (a dictionary of 10 000 values has ~100 000 patterns and millions of
// states; a scan must not wander through all of that memory):
//   - states are numbered breadth-first, so the shallow states a scan visits
//     almost all the time sit together at the front, and the children of a
//     state are contiguous and sorted by label;
//   - states with many children (the root and the first trie levels) also
//     get a dense row holding the complete transition function, failure
//     links folded in, indexed by byte class: bytes that occur in no pattern
//     share class 0 (they always lead back to the root), so a row is as wide
//     as the alphabet actually used (~65 entries for base64-like secrets)
//     rather than 256.
type automaton struct {
	states   []acState
	hot      []hotState // per state, what the scan loop reads on every byte
	labels   []byte     // per state, the label of its incoming edge: a state's children's labels are contiguous
	dense    []int32    // rows of stride transitions, indexed by acState.dense
	class    [256]byte  // byte → class; 0 for bytes in no pattern
	stride   int
	sorted   []string // the patterns, sorted
	only     []int32  // per state, the one pattern whose path passes there, or -1
	maxLen   int      // longest pattern; bounds the streaming look-behind
	pre      prefilter
	hasStar  bool // some pattern contains '*', so a replacement may create a new match
	patterns int
}

// acState is the part of a state only the slow path (a sparse state) reads.
type acState struct {
	first int32 // first child (children are first..first+count-1)
	count int32
	fail  int32
}

// hotState packs what the scan reads for every byte into 8 bytes, so the
// shallow states stay in cache.
type hotState struct {
	row int32 // offset of the state's dense row in automaton.dense, -1 if sparse
	out int32 // length of the longest pattern ending here (dictionary suffixes included)
}

// denseThreshold is the child count from which a state gets a dense row.
const denseThreshold = 4

// maxDenseRows caps dense rows (memory: rows × stride × 4 bytes).
const maxDenseRows = 1 << 13

// buildAutomaton builds the machine for patterns (each non-empty).
func buildAutomaton(patterns []string) *automaton {
	sorted := append([]string(nil), patterns...)
	sort.Strings(sorted)
	a := &automaton{patterns: len(sorted)}

	// Byte classes.
	var used [256]bool
	for _, p := range sorted {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
		if len(p) > a.maxLen {
			a.maxLen = len(p)
		}
		if strings.IndexByte(p, '*') >= 0 {
			a.hasStar = true
		}
	}
	a.stride = 1
	for c := 0; c < 256; c++ {
		if used[c] {
			a.class[c] = byte(a.stride)
			a.stride++
		}
	}

	// 1. Trie in insertion order. Patterns are sorted, so a new child always
	// has the largest label among its siblings so far: appending keeps the
	// sibling lists sorted.
	total := 1
	for _, p := range sorted {
		total += len(p)
	}
	type tnode struct {
		first, next, last int32
		out               int32
		children          int32
		passes, pat       int32 // patterns whose path passes here, and the last of them
		label             byte
	}
	trie := make([]tnode, 1, total)
	trie[0] = tnode{first: -1, next: -1, last: -1}
	for pi, p := range sorted {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := p[i]
			if l := trie[s].last; l >= 0 && trie[l].label == c {
				s = l
				trie[s].passes++
				trie[s].pat = int32(pi)
				continue
			}
			n := int32(len(trie))
			trie = append(trie, tnode{first: -1, next: -1, last: -1, label: c, passes: 1, pat: int32(pi)})
			if l := trie[s].last; l >= 0 {
				trie[l].next = n
			} else {
				trie[s].first = n
			}
			trie[s].last = n
			trie[s].children++
			s = n
		}
		trie[s].out = int32(len(p))
	}

	// 2. Renumber breadth-first: children of a state become contiguous.
	order := make([]int32, 0, len(trie))
	order = append(order, 0)
	newID := make([]int32, len(trie))
	for h := 0; h < len(order); h++ {
		for c := trie[order[h]].first; c >= 0; c = trie[c].next {
			newID[c] = int32(len(order))
			order = append(order, c)
		}
	}
	a.states = make([]acState, len(trie))
	a.hot = make([]hotState, len(trie))
	a.labels = make([]byte, len(trie))
	a.sorted = sorted
	a.only = make([]int32, len(trie))
	rows := int32(0)
	for n, o := range order {
		t := &trie[o]
		st := acState{count: t.children}
		if t.first >= 0 {
			st.first = newID[t.first]
		}
		a.states[n] = st
		a.labels[n] = t.label
		a.only[n] = -1
		if n > 0 && t.passes == 1 {
			a.only[n] = t.pat
		}
		a.hot[n] = hotState{row: -1, out: t.out}
		if (n == 0 || t.children >= denseThreshold) && rows < maxDenseRows {
			a.hot[n].row = rows * int32(a.stride)
			rows++
		}
	}
	trie = nil
	a.dense = make([]int32, int(rows)*a.stride)
	a.pre = newPrefilter(sorted)

	// 3. Failure links, inherited outputs and complete dense rows, in
	// breadth-first order (which is now simply increasing state number):
	// every state's failure target is shallower, hence already final.
	root := &a.states[0]
	for i := int32(0); i < root.count; i++ {
		ch := root.first + i
		a.dense[int(a.class[a.labels[ch]])] = ch // root's row is row 0
	}
	for s := int32(1); s < int32(len(a.states)); s++ {
		st := &a.states[s]
		h := &a.hot[s]
		if f := a.hot[st.fail].out; f > h.out {
			h.out = f
		}
		if h.row >= 0 {
			row := a.dense[h.row : int(h.row)+a.stride]
			for c := 0; c < 256; c++ {
				if cl := a.class[c]; cl != 0 {
					row[cl] = a.step(st.fail, byte(c))
				}
			}
			for i := int32(0); i < st.count; i++ {
				row[a.class[a.labels[st.first+i]]] = st.first + i
			}
		}
		for i := int32(0); i < st.count; i++ {
			ch := st.first + i
			a.states[ch].fail = a.step(st.fail, a.labels[ch])
		}
	}
	return a
}

// step is the goto/failure transition function.
func (a *automaton) step(s int32, c byte) int32 {
	cl := a.class[c]
	if cl == 0 {
		return 0
	}
	for {
		if r := a.hot[s].row; r >= 0 {
			return a.dense[int(r)+int(cl)]
		}
		st := &a.states[s]
		for i, l := range a.labels[st.first : st.first+st.count] {
			if l == c {
				return st.first + int32(i)
			}
			if l > c {
				break
			}
		}
		s = st.fail
	}
}

// span is a half-open byte range [start, end) to redact.
type span struct{ start, end int }

// spansAC appends to dst the merged ranges of every pattern occurrence in
// b: overlapping and adjacent occurrences become one range, as the runner's
// SecretMasker does. Ranges come out sorted and disjoint. It is the
// guaranteed-linear scan behind spans (prefilter.go).
func (a *automaton) spansAC(b []byte, dst []span) []span {
	if a == nil || len(a.states) <= 1 {
		return dst
	}
	hot := a.hot
	dense := a.dense
	class := &a.class
	s := int32(0)
	for i := 0; i < len(b); i++ {
		c := b[i]
		cl := class[c]
		if cl == 0 {
			// A byte in no pattern: back to the root, nothing ends here.
			s = 0
			continue
		}
		if r := hot[s].row; r >= 0 {
			s = dense[int(r)+int(cl)]
		} else {
			s = a.step(s, c)
		}
		if n := hot[s].out; n > 0 {
			// The longest pattern ending here covers every shorter one
			// ending here. Ends arrive in increasing order, so a new range
			// can only swallow ranges at the top of the stack.
			sp := span{i + 1 - int(n), i + 1}
			for len(dst) > 0 && sp.start <= dst[len(dst)-1].end {
				top := dst[len(dst)-1]
				if top.start < sp.start {
					sp.start = top.start
				}
				dst = dst[:len(dst)-1]
			}
			dst = append(dst, sp)
		}
	}
	return dst
}

// redact returns b with every span replaced by Redacted.
func redact(b []byte, sp []span) []byte {
	n := len(b)
	for _, s := range sp {
		n -= s.end - s.start - len(Redacted)
	}
	out := make([]byte, 0, n)
	prev := 0
	for _, s := range sp {
		out = append(out, b[prev:s.start]...)
		out = append(out, Redacted...)
		prev = s.end
	}
	return append(out, b[prev:]...)
}
