package masking

import (
	"bytes"
	"testing"
)

// joinBreaksIndexAny is joinBreaks as first written (one IndexAny per
// break): the reference for its IndexByte version.
func joinBreaksIndexAny(src []byte) (view, bool) {
	var bd *builder
	prev := 0
	for i := 0; i < len(src); {
		j := bytes.IndexAny(src[i:], "\r\n")
		if j < 0 {
			break
		}
		i += j
		n := 1
		if src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n' {
			n = 2
		}
		k := i + n
		for k < len(src) && (src[k] == ' ' || src[k] == '\t') {
			k++
		}
		if k < len(src) && isBase64Char(src[k]) && base64RunBefore(src, i) {
			if bd == nil {
				bd = newBuilder(len(src), nil)
			}
			bd.copy(src, prev, i)
			prev = k
		}
		i += n
	}
	if bd == nil {
		return view{}, false
	}
	bd.copy(src, prev, len(src))
	return bd.v, true
}

func FuzzJoinBreaks(f *testing.F) {
	run := "QUFBQkJCQ0NDRERERUVF"
	for _, s := range []string{"", "plain", run + "\n" + run, run + "\r\n  " + run + "\r" + run, "\r\r\n\n" + run + "\n\r",
		`{"a":1,` + "\n" + `"b":2}`, run + "\n\n" + run} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got, ok := joinBreaks(src, nil)
		want, wantOK := joinBreaksIndexAny(src)
		if ok != wantOK || !bytes.Equal(got.b, want.b) || len(got.lo) != len(want.lo) {
			t.Fatalf("joinBreaks(%q) = %q %v, IndexAny version %q %v", src, got.b, ok, want.b, wantOK)
		}
		for i := range got.lo {
			if got.lo[i] != want.lo[i] || got.hi[i] != want.hi[i] {
				t.Fatalf("joinBreaks(%q): position %d maps to [%d,%d), IndexAny version [%d,%d)", src, i, got.lo[i], got.hi[i], want.lo[i], want.hi[i])
			}
		}
	})
}
