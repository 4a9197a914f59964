package engine_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// A run's taskToDomain queues its worker tasks in a domain: the first of
// the list where a worker polled within engine.ActiveWorkerWindow (the
// server's poll data, WithLastPoll), else the last (NO_DOMAIN: none).
func ExampleWithTaskToDomain() {
	polled := map[string]time.Time{"beta": time.Now()} // a worker polls "beta"
	e, err := engine.New(
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithLastPoll(func(taskType, domain string) (time.Time, bool) {
			at, ok := polled[domain]
			return at, ok
		}),
		engine.WithRemoteWorker(func(ctx context.Context, t engine.RemoteTask) tasks.Result {
			fmt.Printf("%s queued in domain %q, priority %d\n", t.Name, t.Domain, t.Priority)
			return tasks.Result{Status: tasks.Completed}
		}),
	)
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"domains","tasks":[
	  {"name":"resize","taskReferenceName":"a","type":"SIMPLE"},
	  {"name":"notify","taskReferenceName":"b","type":"SIMPLE"}]}`))
	if err != nil {
		panic(err)
	}
	_, err = e.Start(context.Background(), def, nil, engine.WithPriority(3),
		engine.WithTaskToDomain(map[string]string{"*": "alpha,beta,NO_DOMAIN", "notify": "mail"}))
	if err != nil {
		panic(err)
	}
	// Output:
	// resize queued in domain "beta", priority 3
	// notify queued in domain "mail", priority 3
}

// An idempotent start claims its key in the run store first: a second start
// with the key gets the holder's id (RETURN_EXISTING) or a conflict (FAIL).
func ExampleEngine_ClaimIdempotencyKey() {
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	def, err := e.Parse([]byte(`{"name":"charge","tasks":[{"name":"noop","taskReferenceName":"n","type":"INLINE",
	  "inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`))
	if err != nil {
		panic(err)
	}
	existing, err := e.ClaimIdempotencyKey(ctx, "charge", "order-42", engine.IdempotencyFail, "run-1")
	fmt.Printf("first: %q %v\n", existing, err)
	if _, err := e.Start(ctx, def, nil, engine.WithRunID("run-1"), engine.WithIdempotencyKey("order-42")); err != nil {
		panic(err)
	}
	existing, _ = e.ClaimIdempotencyKey(ctx, "charge", "order-42", engine.IdempotencyReturnExisting, "run-2")
	fmt.Println("RETURN_EXISTING:", existing)
	_, err = e.ClaimIdempotencyKey(ctx, "charge", "order-42", engine.IdempotencyFail, "run-3")
	fmt.Println("FAIL:", errors.Is(err, engine.ErrIdempotencyConflict))
	existing, _ = e.ClaimIdempotencyKey(ctx, "charge", "order-42", engine.IdempotencyFailOnRunning, "run-4")
	fmt.Printf("FAIL_ON_RUNNING after the end: %q (run-4 holds it)\n", existing)
	// Output:
	// first: "" <nil>
	// RETURN_EXISTING: run-1
	// FAIL: true
	// FAIL_ON_RUNNING after the end: "" (run-4 holds it)
}
