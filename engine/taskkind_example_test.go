package engine_test

import (
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// What moves a run's task on, from its record's taskType and taskDefName.
func ExampleEngine_TaskKind() {
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		panic(err)
	}
	names := map[engine.TaskKind]string{engine.KindWorker: "worker", engine.KindDecided: "decided",
		engine.KindSystem: "system", engine.KindOutside: "outside"}
	for _, rec := range [][2]string{
		{"encode_video", "encode_video"}, // SIMPLE encode_video
		{"INLINE", "compute"},            // an INLINE task
		{"FORK", "fan_out"},              // a FORK_JOIN's record
		{"HTTP", "call"},                 // an HTTP task
		{"JOIN", "join"},                 // a JOIN
		{"WAIT", "hold"},                 // a WAIT task
		{"SUB_WORKFLOW", "child"},        // a SUB_WORKFLOW task
	} {
		fmt.Println(rec[1], names[e.TaskKind(rec[0], rec[1])])
	}
	// Output:
	// encode_video worker
	// compute decided
	// fan_out decided
	// call system
	// join system
	// hold outside
	// child outside
}
