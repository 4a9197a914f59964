package engine

import (
	"context"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
)

// attemptEnded is CompleteTaskStored's look at the store while it waits
// for the runner's answer: whether the run ended (archived, or a terminal
// status) or the attempt taskID (record seq) did, so that no answer will
// come. A store that reads one task record (runstore.TaskReader: every
// backend) is asked for the run's head and that record only, so a look
// costs the same in a run of ten tasks or of thousands; the record must
// be the attempt's (its seq and taskId), or the run is read whole, as any
// other store's is.
func (e *Engine) attemptEnded(ctx context.Context, runID, taskID string, seq int) (bool, error) {
	if tr, ok := e.runs.(runstore.TaskReader); ok {
		head, task, archived, err := tr.LoadTask(ctx, runID, seq)
		if err != nil {
			return false, err
		}
		if archived || terminalWorkflow(gjson.GetBytes(head, "status").Str) {
			return true, nil
		}
		if id := gjson.GetBytes(task, "taskId"); id.Type == gjson.String && id.Str == taskID {
			if n := gjson.GetBytes(task, "seq"); n.Type == gjson.Number && n.Raw == itoa(seq) {
				return terminalTask(gjson.GetBytes(task, "status").Str), nil
			}
		}
	}
	doc, archived, err := e.runs.Load(ctx, runID)
	if err != nil {
		return false, err
	}
	if archived || terminalWorkflow(docStatus(doc)) {
		return true, nil
	}
	return terminalTask(gjson.GetBytes(doc, `tasks.#(taskId=="`+taskID+`").status`).Str), nil
}
