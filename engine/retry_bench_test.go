package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// retriedChain is a chain of n worker tasks "w", each with its own input.
func retriedChain(n int) string {
	var b strings.Builder
	b.WriteString(`{"name":"bench","tasks":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"w","taskReferenceName":"t%d","inputParameters":{"i":%d}}`, i, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

// BenchmarkRunRetried runs a chain whose every task fails once and is
// retried by its retry policy (retryCount 1, no delay): each retry starts
// from the input of the attempt it retries. SPEC §8: the cost per task at
// the largest size is within 2× of the smallest (finding the retried
// attempt is no scan of the run).
func BenchmarkRunRetried(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("shape=retried/tasks=%d/store=memory", n), func(b *testing.B) {
			one, zero := 1, 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(&engine.TaskDef{Name: "w", RetryCount: &one, RetryDelaySeconds: &zero}); err != nil {
				b.Fatal(err)
			}
			// Each input's odd attempts fail, its even ones complete.
			var mu sync.Mutex
			attempts, calls := map[string]int{}, 0
			rs := runstore.NewMemory()
			e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
				engine.WithWorker("w", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
					mu.Lock()
					defer mu.Unlock()
					attempts[string(in)]++
					calls++
					if attempts[string(in)]%2 == 1 {
						return nil, errors.New("first attempt fails")
					}
					return json.RawMessage(`{}`), nil
				}))
			if err != nil {
				b.Fatal(err)
			}
			def, err := e.Parse([]byte(retriedChain(n)))
			if err != nil {
				b.Fatal(err)
			}
			before := rs.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				calls = 0
				res, err := e.Start(context.Background(), def, json.RawMessage(`{}`))
				if err != nil || res.Status != engine.StatusCompleted || calls != 2*n {
					b.Fatalf("%v %+v, %d attempts", err, res, calls)
				}
			}
			b.StopTimer()
			report(b, rs, before, n)
		})
	}
}
