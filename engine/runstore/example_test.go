package runstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wfrun/wfrun/engine/runstore"
)

func ExampleBolt() {
	dir, _ := os.MkdirTemp("", "runs")
	defer os.RemoveAll(dir)
	s, err := runstore.OpenBolt(filepath.Join(dir, "runs.db"))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	sum := runstore.Summary{WorkflowType: "hello", Status: "RUNNING"}
	// The first write carries the definition (stored once under its hash).
	_ = s.Commit(ctx, "run-1", &runstore.Change{Summary: sum, Head: []byte(`{"status":"RUNNING"}`),
		DefinitionHash: "4f1c", Definition: []byte(`{"name":"hello"}`)})
	// Later writes carry what changed: here one task record.
	_ = s.Commit(ctx, "run-1", &runstore.Change{Summary: sum, Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"status":"COMPLETED"}`)}}})
	doc, _, _ := s.Load(ctx, "run-1")
	fmt.Println(string(doc))
	// Another process may deliver a completion while the runner waits.
	_ = s.PutSignal(ctx, "run-1", "approve", []byte(`{"status":"COMPLETED"}`))
	sig, _ := s.TakeSignals(ctx, "run-1")
	fmt.Println(string(sig["approve"]))
	// The terminal run moves to the archive in one transaction.
	sum.Status = "COMPLETED"
	_ = s.Archive(ctx, "run-1", []byte(`{"status":"COMPLETED"}`), sum)
	doc, archived, _ := s.Load(ctx, "run-1")
	fmt.Println(string(doc), archived)
	// Output:
	// {"status":"RUNNING","input":{},"output":{},"variables":{},"tasks":[{"status":"COMPLETED"}],"workflowDefinition":{"name":"hello"}}
	// {"status":"COMPLETED"}
	// {"status":"COMPLETED"} true
}

// Damaged lists the journal entries a fold could not read and kept aside
// (the file is untrusted): each with one line naming the file, the key,
// and the run or why the run is unknown.
func ExampleBolt_Damaged() {
	dir, _ := os.MkdirTemp("", "runs")
	defer os.RemoveAll(dir)
	s, err := runstore.OpenBolt(filepath.Join(dir, "runs.db"))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	kept, err := s.Damaged(context.Background())
	if err != nil {
		panic(err)
	}
	for _, d := range kept {
		fmt.Println(d.Err)
	}
	fmt.Println(len(kept), "damaged entries")
	// Output:
	// 0 damaged entries
}
