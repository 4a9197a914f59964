package masking

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkRemaskAfterRegister: a run holds n stored records (JSON, about
// 200 bytes each, each with a value masked) and registers one more value
// per op; the records are then brought up to date. Cost per op:
//   - impl=mask-all: MaskJSON every record (what the engine did);
//   - impl=contains-any: ContainsAny every record, MaskJSON those it finds;
//   - impl=index: Index.Candidates, MaskJSON those it lists (and index
//     them again).
//
// mask-all and contains-any grow with n; index does not (SPEC §8: per-task
// CPU of a 1 000-iteration loop within 2× of 10).
func BenchmarkRemaskAfterRegister(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, impl := range []string{"mask-all", "contains-any", "index"} {
			b.Run(fmt.Sprintf("records=%d/impl=%s", n, impl), func(b *testing.B) {
				r := rand.New(rand.NewSource(1))
				m := New(WithLogger(nil))
				token := func() string { return fmt.Sprintf("tok_%016x", r.Uint64()) }
				recs := make([][]byte, n)
				for i := range recs {
					v := token()
					m.Register(v)
					doc := fmt.Sprintf(`{"ref":"step__%d","status":"COMPLETED","output":{"auth":"Bearer %s","note":"iteration %d of the loop, nothing secret here","n":%d}}`, i, v, i, i)
					recs[i], _ = m.MaskJSON([]byte(doc))
				}
				x := NewIndex[int](m)
				if impl == "index" {
					for i, d := range recs {
						x.SetJSON(i, d)
					}
				}
				var keys []int
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					since := m.Len()
					m.Register(token())
					switch impl {
					case "mask-all":
						for j, d := range recs {
							recs[j], _ = m.MaskJSON(d)
						}
					case "contains-any":
						for j, d := range recs {
							if m.ContainsAny(d, since) {
								recs[j], _ = m.MaskJSON(d)
							}
						}
					default:
						keys = x.Candidates(since, keys[:0])
						for _, j := range keys {
							recs[j], _ = m.MaskJSON(recs[j])
							x.SetJSON(j, recs[j])
						}
					}
				}
			})
		}
	}
}

// BenchmarkIndexSetJSON: indexing one stored record (what each new or
// changed form costs).
func BenchmarkIndexSetJSON(b *testing.B) {
	m := New(WithLogger(nil))
	x := NewIndex[int](m)
	doc := []byte(`{"ref":"step__17","status":"COMPLETED","output":{"auth":"Bearer ***","note":"iteration 17 of the loop, nothing secret here","n":17}}`)
	b.SetBytes(int64(len(doc)))
	for i := 0; i < b.N; i++ {
		x.SetJSON(i%1000, doc)
	}
}

// BenchmarkIndexSmallRun: what a short run pays for its index — built,
// its stored forms (a task input and a sealed output per iteration, as a
// DO_WHILE registering a value per iteration stores them) indexed one
// iteration at a time, and a new value looked up after each.
func BenchmarkIndexSmallRun(b *testing.B) {
	const iterations = 10
	m := New(WithLogger(nil))
	in := make([][]byte, iterations)
	out := make([][]byte, iterations)
	for i := range in {
		in[i] = fmt.Appendf(nil, `{"evaluatorType":"javascript","i":%d,"expression":"({_secrets: {tok: 'token-value-' + $.i}})"}`, i+1)
		out[i] = fmt.Appendf(nil, `{"result":{"_secrets":"wfrun-sealed:v1:ARA2ZDNmZjA3MTQyYTI3YzU12Sw9H79nEB2vlSU0IZgaCtYAbe+RsFo9vR92VejKht7xR+lyJ5H%04dDSZYNKBplSqFIy"}}`, i)
	}
	for i := range iterations {
		m.Register(fmt.Sprintf("token-value-%d", i+1))
	}
	b.ReportAllocs()
	var keys []int
	for i := 0; i < b.N; i++ {
		x := NewIndex[int](m)
		for j := range iterations {
			x.SetJSON(2*j, in[j])
			x.SetJSON(2*j+1, out[j])
			keys = x.Candidates(m.Len()-iterations+j, keys[:0])
		}
	}
}
