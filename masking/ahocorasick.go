package masking

import (
	"sort"
	"strings"
)

// automaton is an immutable Aho–Corasick machine over bytes. It is built once
// from the full pattern set and never modified afterwards, so any number of
// goroutines may scan with it while Register builds its successor.
//
// Layout: states live in one slice of small structs so that a step touches one
// cache line. Children of a state form a sibling list sorted by label; states
// with many children (the root and the first levels of a large dictionary) also
// get a dense 256-entry row holding the complete transition function (failure
// links already folded in), which keeps the per-byte cost flat as the number of
// registered values grows.
type automaton struct {
	states   []acState
	dense    []int32 // rows of 256 transitions, indexed by acState.dense
	maxLen   int     // longest pattern; bounds the streaming look-behind
	hasStar  bool    // some pattern contains '*', so a replacement may create a new match
	patterns int
}

type acState struct {
	first int32 // first child, -1 if none
	next  int32 // next sibling, -1 if none
	fail  int32
	dense int32 // row in automaton.dense, -1 if sparse
	out   int32 // length of the longest pattern that ends in this state (via dictionary suffixes too)
	label byte
}

// denseThreshold is the child count from which a state gets a dense row. A
// row costs 1 KiB; only the root and the first one or two trie levels of a
// large dictionary reach it.
const denseThreshold = 6

// buildAutomaton builds the machine for patterns (each non-empty).
func buildAutomaton(patterns []string) *automaton {
	sorted := append([]string(nil), patterns...)
	sort.Strings(sorted)
	a := &automaton{patterns: len(sorted)}
	total := 1
	for _, p := range sorted {
		total += len(p)
	}
	a.states = make([]acState, 1, total)
	a.states[0] = acState{first: -1, next: -1, dense: -1}
	// Insert in sorted order: a new child is always the largest label among
	// its siblings so far, so appending at the end keeps sibling lists sorted.
	// last[s] remembers the last child of s to append in O(1).
	last := make([]int32, 1, total)
	last[0] = -1
	children := make([]int32, 1, total)
	for _, p := range sorted {
		if len(p) > a.maxLen {
			a.maxLen = len(p)
		}
		if strings.IndexByte(p, '*') >= 0 {
			a.hasStar = true
		}
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := p[i]
			l := last[s]
			if l >= 0 && a.states[l].label == c {
				s = l
				continue
			}
			n := int32(len(a.states))
			a.states = append(a.states, acState{first: -1, next: -1, dense: -1, label: c})
			last = append(last, -1)
			children = append(children, 0)
			if l >= 0 {
				a.states[l].next = n
			} else {
				a.states[s].first = n
			}
			last[s] = n
			children[s]++
			s = n
		}
		if int32(len(p)) > a.states[s].out {
			a.states[s].out = int32(len(p))
		}
	}
	// Dense rows for branching states.
	nd := int32(0)
	for s := range a.states {
		if s == 0 || children[s] >= denseThreshold {
			a.states[s].dense = nd
			nd++
		}
	}
	a.dense = make([]int32, int(nd)*256)
	// Breadth-first: failure links, inherited outputs, complete dense rows.
	queue := make([]int32, 0, len(a.states))
	root := &a.states[0]
	row := a.dense[0:256]
	for c := a.states[0].first; c >= 0; c = a.states[c].next {
		row[a.states[c].label] = c
		a.states[c].fail = 0
		queue = append(queue, c)
	}
	_ = root
	for h := 0; h < len(queue); h++ {
		s := queue[h]
		st := &a.states[s]
		if f := a.states[st.fail].out; f > st.out {
			st.out = f
		}
		if st.dense >= 0 {
			// A state's failure target is shallower, so its transitions are
			// final by now: copy them, then overlay the state's own children.
			d := a.dense[int(st.dense)*256 : int(st.dense)*256+256]
			for c := 0; c < 256; c++ {
				d[c] = a.step(st.fail, byte(c))
			}
		}
		for c := st.first; c >= 0; c = a.states[c].next {
			ch := &a.states[c]
			ch.fail = a.step(st.fail, ch.label)
			if st.dense >= 0 {
				a.dense[int(st.dense)*256+int(ch.label)] = c
			}
			queue = append(queue, c)
		}
	}
	return a
}

// step is the goto/failure transition function.
func (a *automaton) step(s int32, c byte) int32 {
	for {
		st := &a.states[s]
		if st.dense >= 0 {
			return a.dense[int(st.dense)*256+int(c)]
		}
		for ch := st.first; ch >= 0; {
			cs := &a.states[ch]
			if cs.label == c {
				return ch
			}
			if cs.label > c {
				break
			}
			ch = cs.next
		}
		s = st.fail
	}
}

// span is a half-open byte range [start, end) to redact.
type span struct{ start, end int }

// spans appends to dst the merged ranges of every pattern occurrence in b:
// overlapping and adjacent occurrences become one range, as the runner's
// SecretMasker does. Ranges come out sorted and disjoint.
func (a *automaton) spans(b []byte, dst []span) []span {
	if a == nil || len(a.states) <= 1 {
		return dst
	}
	states := a.states
	dense := a.dense
	s := int32(0)
	for i := 0; i < len(b); i++ {
		c := b[i]
		// Inline the common dense case; fall back to the general step.
		if d := states[s].dense; d >= 0 {
			s = dense[int(d)<<8|int(c)]
		} else {
			s = a.step(s, c)
		}
		if n := states[s].out; n > 0 {
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
