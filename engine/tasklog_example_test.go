package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A task's execution log: lines added while its run runs are kept beside
// the run and read back in order; an ended run takes no more.
func ExampleEngine_AppendTaskLog() {
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		panic(err)
	}
	def, err := e.Parse([]byte(`{"name":"logged","tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT"}]}`))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	done := make(chan *engine.Result)
	go func() {
		res, err := e.Start(ctx, def, nil, engine.WithRunID("run-1"))
		if err != nil {
			panic(err)
		}
		done <- res
	}()
	var taskID string
	for taskID == "" {
		time.Sleep(5 * time.Millisecond)
		view, _ := e.Show(ctx, "run-1")
		var run struct {
			Tasks []struct {
				TaskID string `json:"taskId"`
			} `json:"tasks"`
		}
		if json.Unmarshal(view, &run) == nil && len(run.Tasks) == 1 {
			taskID = run.Tasks[0].TaskID
		}
	}
	for _, line := range []string{"fetched 3 records", "waiting for approval"} {
		if err := e.AppendTaskLog(ctx, "run-1", taskID, line); err != nil {
			panic(err)
		}
	}
	logs, err := e.TaskLogs(ctx, "run-1", taskID)
	if err != nil {
		panic(err)
	}
	for _, l := range logs {
		fmt.Println(l.Log)
	}
	if _, err := e.CompleteTask(ctx, "run-1", "hold", engine.TaskCompleted, nil); err != nil {
		panic(err)
	}
	fmt.Println((<-done).Status)
	err = e.AppendTaskLog(ctx, "run-1", taskID, "too late")
	fmt.Println(errors.Is(err, engine.ErrNotRunning))
	// Output:
	// fetched 3 records
	// waiting for approval
	// COMPLETED
	// true
}
