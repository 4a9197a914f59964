package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/tasks"
)

func inlineChain(n int) string {
	var b strings.Builder
	b.WriteString(`{"name":"bench","tasks":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		prev := "${workflow.input.start}"
		if i > 0 {
			prev = fmt.Sprintf("${t%d.output.result}", i-1)
		}
		fmt.Fprintf(&b, `{"name":"t%d","taskReferenceName":"t%d","type":"INLINE","inputParameters":{"evaluatorType":"expr","expression":"a + 1","a":"%s"}}`, i, i, prev)
	}
	fmt.Fprintf(&b, `],"outputParameters":{"n":"${t%d.output.result}"}}`, n-1)
	return b.String()
}

// doWhile is a loop of n iterations over one INLINE task that reads the
// loop's iteration; the condition reads the iteration that ended from the
// loop's output (which holds every iteration).
func doWhile(n int) string {
	return fmt.Sprintf(`{"name":"bench","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "loopCondition":"if ($.loop['iteration'] < %d && $.loop[String($.loop['iteration'])].step.result > 0) { true; } else { false; }",
	  "loopOver":[{"name":"step","taskReferenceName":"step","type":"INLINE",
	    "inputParameters":{"evaluatorType":"expr","expression":"a + 1","a":"${loop.output.iteration}"}}]}],
	  "outputParameters":{"n":"${step.output.result}"}}`, n)
}

// fork has n branches of one INLINE task each, joined.
func fork(n int) string {
	var br, on strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			br.WriteString(",")
			on.WriteString(",")
		}
		fmt.Fprintf(&br, `[{"name":"b%d","taskReferenceName":"b%d","type":"INLINE","inputParameters":{"evaluatorType":"expr","expression":"a + 1","a":%d}}]`, i, i, i)
		fmt.Fprintf(&on, `"b%d"`, i)
	}
	return fmt.Sprintf(`{"name":"bench","tasks":[{"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[%s]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":[%s]}],
	  "outputParameters":{"n":"${b%d.output.result}"}}`, br.String(), on.String(), n-1)
}

func benchStore(b *testing.B, kind string) runstore.Store {
	b.Helper()
	switch kind {
	case "bolt":
		s, err := runstore.OpenBolt(filepath.Join(b.TempDir(), "runs.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	case "redis":
		s, err := runstore.OpenRedis("redis://" + redistest.Start(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	return runstore.NewMemory()
}

// report adds the store's writes per run and the cost per unit of work
// (task, iteration or branch), so that sizes compare side by side.
func report(b *testing.B, rs runstore.Store, before runstore.Stats, units int) {
	st := rs.(runstore.StatsReporter).Stats()
	n := float64(b.N)
	b.ReportMetric(float64(st.Commits-before.Commits)/n, "commits/op")
	b.ReportMetric(float64(st.Bytes-before.Bytes)/n, "bytes-persisted/op")
	b.ReportMetric(float64(st.Bytes-before.Bytes)/n/float64(units), "bytes-persisted/unit")
	if st.Writes > 0 {
		b.ReportMetric(float64(st.Writes-before.Writes)/n, "page-writes/op")
		b.ReportMetric(float64(st.Written-before.Written)/n, "bytes-written/op")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/float64(units), "ns/unit")
}

// BenchmarkRun measures whole runs (created, every task persisted, archived)
// by shape and size. SPEC §8: per unit (task, iteration, branch), CPU and
// bytes persisted at the largest size are within 2× of the smallest; on
// bolt a chain commits at most tasks + 2 times.
func BenchmarkRun(b *testing.B) {
	type shape struct {
		name, unit string
		sizes      []int
		stores     []string
		def        func(int) string
		want       func(int) string
	}
	shapes := []shape{
		{"chain", "tasks", []int{10, 100, 1000}, []string{"memory", "bolt", "redis"}, inlineChain,
			func(n int) string { return fmt.Sprintf(`{"n":%d}`, n+1) }},
		{"dowhile", "iterations", []int{10, 100, 1000}, []string{"memory"}, doWhile,
			func(n int) string { return fmt.Sprintf(`{"n":%d}`, n+1) }},
		{"fork", "branches", []int{10, 100}, []string{"memory"}, fork,
			func(n int) string { return fmt.Sprintf(`{"n":%d}`, n) }},
		// A loop registering a new value with the masker per iteration
		// (runlog_cost_test.go): the values go to the run's log.
		{"registering", "iterations", []int{10, 1000}, []string{"memory"}, registeringLoop,
			func(n int) string { return fmt.Sprintf(`{"n":%d}`, n) }},
	}
	for _, sh := range shapes {
		for _, n := range sh.sizes {
			for _, st := range sh.stores {
				b.Run(fmt.Sprintf("shape=%s/%s=%d/store=%s", sh.name, sh.unit, n, st), func(b *testing.B) {
					rs := benchStore(b, st)
					e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
					if err != nil {
						b.Fatal(err)
					}
					def, err := e.Parse([]byte(sh.def(n)))
					if err != nil {
						b.Fatal(err)
					}
					want := sh.want(n)
					before := rs.(runstore.StatsReporter).Stats()
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						res, err := e.Start(context.Background(), def, json.RawMessage(`{"start":1}`))
						if err != nil || res.Status != engine.StatusCompleted || string(res.Output) != want {
							b.Fatalf("%v %+v", err, res)
						}
					}
					b.StopTimer()
					report(b, rs, before, n)
				})
			}
		}
	}
}

// BenchmarkRunParallel runs a 10-task chain in `runs` concurrent runs on
// one engine and store. SPEC §8: on bolt, 16 concurrent runs complete at
// least 5× the runs/s of one (commits are shared), and 64 never fail.
func BenchmarkRunParallel(b *testing.B) {
	for _, st := range []string{"bolt", "redis"} {
		for _, par := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("store=%s/runs=%d", st, par), func(b *testing.B) {
				rs := benchStore(b, st)
				e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
				if err != nil {
					b.Fatal(err)
				}
				def, err := e.Parse([]byte(inlineChain(10)))
				if err != nil {
					b.Fatal(err)
				}
				before := rs.(runstore.StatsReporter).Stats()
				var next atomic.Int64
				var failures atomic.Int64
				var firstErr atomic.Value
				var wg sync.WaitGroup
				b.ReportAllocs()
				b.ResetTimer()
				for w := 0; w < par; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							res, err := e.Start(context.Background(), def, json.RawMessage(`{"start":1}`))
							if err != nil || res.Status != engine.StatusCompleted {
								failures.Add(1)
								firstErr.CompareAndSwap(nil, fmt.Sprint(err, res))
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				if f := failures.Load(); f > 0 {
					b.Fatalf("%d of %d runs failed; first: %v", f, b.N, firstErr.Load())
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
				report(b, rs, before, 10)
			})
		}
	}
}
