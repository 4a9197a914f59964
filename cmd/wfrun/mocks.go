package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
)

// readMocks reads `run --mocks FILE`: Conductor's WorkflowTestRequest (or
// just its taskRefToMockOutput and subWorkflowTestRequest members), as
// POST /api/workflow/test takes it.
func readMocks(path string) (*engine.Test, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--mocks: %w", err))
	}
	if !json.Valid(b) {
		return nil, usageErr(jsonSyntaxError("--mocks "+path, b))
	}
	var m engine.Mocks
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, usageErr(fmt.Errorf("--mocks %s: want a WorkflowTestRequest (taskRefToMockOutput: {ref: [{status, output}]}): %w", path, err))
	}
	t, err := engine.NewTest(&m)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--mocks %s: %w", path, err))
	}
	return t, nil
}

// runTest is `run --mocks`: the run is a test run (engine.AsTest). When it
// reaches a SIMPLE task with no mock left, which would wait for good, it
// is interrupted there (it stays RUNNING in the store) and the command
// says which task stopped it: exit status 1.
func runTest(ctx context.Context, cmd *cobra.Command, ef *engineFlags, c *cliEngine, def *engine.Definition, in json.RawMessage,
	opts []engine.RunOption, test *engine.Test) error {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		res *engine.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := c.Start(tctx, def, in, append(opts, engine.AsTest(test))...)
		done <- outcome{res, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-test.Waiting():
		cancel()
		o = <-done
		if o.res == nil || !errors.Is(o.err, engine.ErrInterrupted) || ctx.Err() != nil {
			break // it ended otherwise: say so as for any run
		}
		if ef.pv != nil {
			ef.pv.close()
		}
		if len(o.res.Output) == 0 {
			o.res.Output = json.RawMessage("{}") // no output yet, as Conductor shows a running workflow
		}
		if err := printResult(cmd, &ef.out, o.res, false); err != nil {
			return err
		}
		return failed(fmt.Errorf("test run %s stopped at task %s: it has no mock left; the run stays RUNNING there (wfrun show %s; wfrun terminate %s)",
			o.res.RunID, test.WaitingAt(), o.res.RunID, o.res.RunID))
	}
	waitStarted(ctx, cmd, ef, c)
	return finishRun(cmd, ef, o.res, o.err)
}
