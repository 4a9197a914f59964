package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// WithPollInterval(0) keeps the default: a WAIT completed from outside
// ends its run (a zero interval made WAIT's ticker panic).
func TestPollIntervalZeroKeepsDefault(t *testing.T) {
	e := harnessEngine(t, nil, engine.WithPollInterval(0))
	d, err := e.Parse([]byte(`{"name":"wait_zero","tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type ended struct {
		res *engine.Result
		err error
	}
	done := make(chan ended, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("wait-zero"))
		done <- ended{res, err}
	}()
	for {
		if _, err := e.CompleteTask(ctx, "wait-zero", "w", engine.TaskCompleted, nil); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the WAIT was never completed")
		case <-time.After(10 * time.Millisecond):
		}
	}
	r := <-done
	if r.err != nil || r.res == nil || r.res.Status != engine.StatusCompleted {
		t.Fatalf("run: %+v, %v; want COMPLETED", r.res, r.err)
	}
}
