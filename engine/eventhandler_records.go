package engine

import "github.com/wfrun/wfrun/engine/runstore"

// EventRecords is where an event processor keeps its queues and execution
// records beside the runs: the run store, when it keeps records
// (runstore.Records: bolt and the in-memory store), else nil.
func (e *Engine) EventRecords() runstore.Records {
	if r, ok := e.runs.(runstore.Records); ok {
		return r
	}
	return nil
}
