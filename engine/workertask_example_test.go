package engine_test

import (
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A run's task record carries a SIMPLE task's name as its taskType; any
// other task carries its type.
func ExampleEngine_IsWorkerTask() {
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		panic(err)
	}
	for _, rec := range [][2]string{
		{"encode_video", "encode_video"}, // SIMPLE encode_video
		{"WAIT", "hold"},                 // a WAIT task named hold
		{"JOIN", "JOIN"},                 // a JOIN
		{"HTTP", "HTTP"},                 // an HTTP task named HTTP
	} {
		fmt.Println(rec[1], e.IsWorkerTask(rec[0], rec[1]))
	}
	// Output:
	// encode_video true
	// hold false
	// JOIN false
	// HTTP false
}
