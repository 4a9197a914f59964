package runsecrets_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
)

// BenchmarkAlsoRegister: runs of 100 values each register, one at a time,
// with their own masker and a process masker (AlsoRegisterWith) that
// ends up holding every run's values; ns/value should stay flat as the
// process masker grows (O(log n) amortised per value), and a second pass
// over the same values (every run reading the same secrets) adds nothing
// to it; also=false is the same runs without a process masker.
// BenchmarkAlsoMaskLine is the cost of masking a 1 KiB log line
// with the process masker holding that many values.
func BenchmarkAlsoRegister(b *testing.B) {
	for _, c := range []struct {
		total int
		also  bool
	}{{1_000, false}, {1_000, true}, {10_000, true}, {100_000, false}, {100_000, true}} {
		total := c.total
		b.Run(fmt.Sprintf("%d/also=%v", total, c.also), func(b *testing.B) {
			k := ring(b)
			for b.Loop() {
				proc := masking.New(masking.WithLogger(nil))
				for pass := range 2 {
					for run := 0; run < total/100; run++ {
						opts := []runsecrets.Option{runsecrets.WithMaskerOptions(masking.WithLogger(nil))}
						if c.also {
							opts = append(opts, runsecrets.AlsoRegisterWith(proc))
						}
						r, err := runsecrets.New(fmt.Sprintf("run-%d-%d", pass, run), nil, k, opts...)
						if err != nil {
							b.Fatal(err)
						}
						for i := range 100 {
							r.Register(fmt.Sprintf("value-%07d-%07d-x", run, i))
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*total), "ns/value")
		})
	}
}

func BenchmarkAlsoMaskLine(b *testing.B) {
	line := strings.Repeat(`{"level":"INFO","msg":"request","path":"/api/workflow/abc/x"} `, 40)[:1024]
	for _, total := range []int{10, 1_000, 10_000} {
		b.Run(fmt.Sprint(total), func(b *testing.B) {
			proc := masking.New(masking.WithLogger(nil))
			k := ring(b)
			for run := 0; run < max(1, total/100); run++ {
				r, err := runsecrets.New(fmt.Sprintf("run-%d", run), nil, k,
					runsecrets.WithMaskerOptions(masking.WithLogger(nil)), runsecrets.AlsoRegisterWith(proc))
				if err != nil {
					b.Fatal(err)
				}
				for i := range min(100, total) {
					r.Register(fmt.Sprintf("value-%07d-%07d-x", run, i))
				}
			}
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				_ = proc.MaskString(line)
			}
		})
	}
}
