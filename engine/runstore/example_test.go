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
	ctx := context.Background()
	_ = s.Save(ctx, "run-1", []byte(`{"status":"RUNNING"}`), runstore.Summary{WorkflowType: "hello", Status: "RUNNING"})
	// Another process may deliver a completion while the runner waits.
	_ = s.PutSignal(ctx, "run-1", "approve", []byte(`{"status":"COMPLETED"}`))
	sig, _ := s.TakeSignals(ctx, "run-1")
	fmt.Println(string(sig["approve"]))
	// The terminal run moves to the archive in one transaction.
	_ = s.Archive(ctx, "run-1", []byte(`{"status":"COMPLETED"}`), runstore.Summary{WorkflowType: "hello", Status: "COMPLETED"})
	doc, archived, _ := s.Load(ctx, "run-1")
	fmt.Println(string(doc), archived)
	// Output:
	// {"status":"COMPLETED"}
	// {"status":"COMPLETED"} true
}
