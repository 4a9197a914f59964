package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// benchDefsDir writes n definitions into a new directory: the children
// c0…c9 (version 1, one SET_VARIABLE task) and n-10 others like them,
// which the engine's index then sees as settled (a file written within a
// few seconds is read again by every lookup, defindex.go).
func benchDefsDir(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	for i := range n {
		name := fmt.Sprintf("other%d", i)
		if i < 10 {
			name = fmt.Sprintf("c%d", i)
		}
		def := `{"name":"` + name + `","version":1,"schemaVersion":2,"tasks":[
		  {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, []byte(def), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkStartVersionlessChildren: a run whose definition names ten
// children without a version (pinned when it starts, each started by its
// task), against definitions directories of 10, 100 and 1000 files.
// Everything but the directory's size is the same: what a run costs more
// with n is what finding its definitions costs.
func BenchmarkStartVersionlessChildren(b *testing.B) {
	var tasksJSON []string
	for i := range 10 {
		tasksJSON = append(tasksJSON, fmt.Sprintf(`{"name":"s%d","taskReferenceName":"s%d","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"c%d"}}`, i, i, i))
	}
	parent := `{"name":"bench_parent","version":1,"schemaVersion":2,"tasks":[` + strings.Join(tasksJSON, ",") + `]}`
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("defs=%d", n), func(b *testing.B) {
			dir := benchDefsDir(b, n)
			e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir))
			if err != nil {
				b.Fatal(err)
			}
			engine.SettleDefinitionsIndex(e, dir)
			def, err := e.Parse([]byte(parent))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := e.Start(ctx, def, json.RawMessage(`{}`))
				if err != nil || res.Status != engine.StatusCompleted {
					b.Fatalf("start: %v %+v", err, res)
				}
			}
		})
	}
}
