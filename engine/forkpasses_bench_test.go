package engine

import (
	"fmt"
	"testing"
)

// BenchmarkForkPassesDrain: a fork of n branches is stopped (a branch
// failed) and its branches then leave the ring one by one, as they do
// when their last synchronous task has run. The stop's drain must cost
// O(1) per branch leaving, so ns per branch stays flat as n grows.
func BenchmarkForkPassesDrain(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("branches=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := newForkPasses()
				ids := p.enter(-1, n)
				drained := p.stop(ids[:n], false)
				// The ring's order: the branch whose turn it is leaves
				// first, as a stopped pass runs to its end.
				for _, m := range ids[:n] {
					p.leave(m)
				}
				<-drained
				p.leave(ids[n])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/branch")
		})
	}
}
