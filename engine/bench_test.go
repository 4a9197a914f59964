package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
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

// BenchmarkRun measures whole runs (every transition persisted, archive at
// the end) of a chain of INLINE tasks using the expr evaluator.
func BenchmarkRun(b *testing.B) {
	for _, st := range []string{"memory", "bolt"} {
		b.Run("tasks=10/type=INLINE-expr/store="+st, func(b *testing.B) {
			var rs runstore.Store = runstore.NewMemory()
			if st == "bolt" {
				s, err := runstore.OpenBolt(filepath.Join(b.TempDir(), "runs.db"))
				if err != nil {
					b.Fatal(err)
				}
				rs = s
			}
			e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
			if err != nil {
				b.Fatal(err)
			}
			def, err := e.Parse([]byte(inlineChain(10)))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := e.Start(context.Background(), def, json.RawMessage(`{"start":1}`))
				if err != nil || res.Status != engine.StatusCompleted || string(res.Output) != `{"n":11}` {
					b.Fatalf("%v %+v", err, res)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}
