package worker_test

import (
	"context"
	"os"
	"os/signal"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks/worker"
)

// A worker that runs wfrun's HTTP task for the SIMPLE task name wfrun_http
// of a Conductor server, resolving $<workflow.secrets.*> from its own store.
func ExampleNew() {
	secrets := memory.New() // in practice: store/open with the worker's WFRUN_STORE
	w, err := worker.New(worker.Config{
		Server:  "http://localhost:8080/api",
		Tasks:   map[string]string{"wfrun_http": "HTTP"},
		Secrets: store.NewRunView(secrets, store.LocalPrincipal, "", ""),
	})
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_ = w.Run // w.Run(ctx) polls until ctx ends, then lets running tasks finish
	_ = ctx
}
