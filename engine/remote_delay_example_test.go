package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// Under WithRemoteDelays a retry waiting its retryDelaySeconds is handed
// to the RemoteWorkerFunc at once, with OfferAt: the function keeps it from
// workers' polls until then, and may take an answer for it before (an
// update by its task id).
func ExampleWithRemoteDelays() {
	clock := engine.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, err := engine.New(
		engine.WithClock(clock),
		engine.WithRemoteDelays(),
		engine.WithRemoteWorker(func(ctx context.Context, t engine.RemoteTask) tasks.Result {
			if t.RetryCount == 0 {
				fmt.Println("attempt 0: offer at once:", t.OfferAt.IsZero())
				return tasks.Result{Status: tasks.Failed, Reason: "try again"}
			}
			fmt.Println("attempt 1: offer after", t.OfferAt.Sub(clock.Now()))
			// Answered by its id before its delay has passed.
			return tasks.Result{Status: tasks.Completed}
		}),
	)
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"delayed","tasks":[{"name":"work","taskReferenceName":"work","type":"SIMPLE",
	  "taskDefinition":{"name":"work","retryCount":1,"retryDelaySeconds":30}}]}`))
	if err != nil {
		panic(err)
	}
	res, err := e.Start(context.Background(), def, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status)
	// Output:
	// attempt 0: offer at once: true
	// attempt 1: offer after 30s
	// COMPLETED
}
