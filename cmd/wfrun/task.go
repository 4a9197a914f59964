package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
)

func newTaskCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Act on the tasks of a run",
		Example: `  wfrun task complete RUN_ID approval --data '{"approved":true}'
  wfrun task signal RUN_ID --data '{"approved":true}'
  wfrun task skip RUN_ID notify --data '{"sent":false}'`,
	}
	cmd.AddCommand(newTaskCompleteCmd(), newTaskSignalCmd(), newTaskSkipCmd())
	return cmd
}

// delivery holds what task complete and task signal share: --data,
// --status and -o.
type delivery struct {
	output, status string
	out            outputFlags
}

func (d *delivery) add(cmd *cobra.Command) {
	addConfigFlags(cmd)
	cmd.Flags().StringVar(&d.output, "data", "", "the task's outputData: a JSON object, @FILE or @- for stdin")
	cmd.Flags().StringVar(&d.status, "status", "COMPLETED", "COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"))
	d.out.add(cmd)
}

// delivered is what a delivery prints.
type delivered struct {
	WorkflowID string `json:"workflowId"`
	TaskID     string `json:"taskId,omitempty"`
	TaskRef    string `json:"referenceTaskName"`
	Status     string `json:"status"`
}

// run checks the flags, opens the engine and delivers the completion with
// send, which names the task it reached.
func (d *delivery) run(cmd *cobra.Command, send func(c *cliEngine, status string, output json.RawMessage) (delivered, error)) error {
	if err := d.out.check(); err != nil {
		return err
	}
	st := strings.ToUpper(d.status)
	switch st {
	case "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR":
	default:
		return usageErr(fmt.Errorf("--status %q: want COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR", d.status))
	}
	taskOut, err := readJSONArg(cmd, "data", d.output)
	if err != nil {
		return err
	}
	c, err := openEngine(cmd, nil, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := send(c, st, taskOut)
	if err != nil {
		return err
	}
	v.Status = st
	return d.out.render(cmd.OutOrStdout(), v, func(t *table) {
		t.line(fmt.Sprintf("task %s of run %s: %s delivered", v.TaskRef, v.WorkflowID, st))
	})
}

func newTaskCompleteCmd() *cobra.Command {
	var d delivery
	cmd := &cobra.Command{
		Use:   "complete RUN_ID TASK_REF",
		Short: "Complete a WAIT or HUMAN task that waits for an external completion",
		Long: `Complete delivers the completion of a waiting task to its run. It works while
"wfrun run" waits in another process (the run picks it up within a second) and
for a run whose process stopped (the next "wfrun resume" applies it). TASK_REF
may omit a DO_WHILE iteration suffix (__N): the latest waiting iteration is used.`,
		Example: `  wfrun task complete RUN_ID approval --data '{"approved":true}'
  wfrun task complete RUN_ID approval --status FAILED -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return d.run(cmd, func(c *cliEngine, st string, out json.RawMessage) (delivered, error) {
				ref, err := c.CompleteTask(cmd.Context(), args[0], args[1], st, out)
				return delivered{WorkflowID: args[0], TaskRef: ref}, err
			})
		},
	}
	d.add(cmd)
	cmd.ValidArgsFunction = completeRunThenTask
	return cmd
}

func newTaskSignalCmd() *cobra.Command {
	var d delivery
	cmd := &cobra.Command{
		Use:   "signal RUN_ID",
		Short: "Complete the WAIT task a run is blocked on, in the run or its sub-workflows",
		Long: `Signal completes the first WAIT task of the run that has not ended or, when the
run has none, the first one its running sub-workflows wait on (depth first, in
task order), as Conductor's task signal API does: the caller names the run, not
the task. It is delivered as "wfrun task complete" delivers a completion.`,
		Example: `  wfrun task signal RUN_ID --data '{"approved":true}'
  wfrun task signal RUN_ID --status FAILED -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return d.run(cmd, func(c *cliEngine, st string, out json.RawMessage) (delivered, error) {
				got, err := c.Signal(cmd.Context(), args[0], st, out)
				return delivered{WorkflowID: got.RunID, TaskID: got.TaskID, TaskRef: got.Ref}, err
			})
		},
	}
	d.add(cmd)
	cmd.ValidArgsFunction = completeRunIDs
	return cmd
}

func newTaskSkipCmd() *cobra.Command {
	var output, input string
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "skip RUN_ID TASK_REF",
		Short: "Skip a task a running run has not reached yet",
		Long: `Skip records the task TASK_REF of a RUNNING run as SKIPPED before the run
reaches it, as Conductor's skip task API does; when the run gets there it goes
on as if the task had completed, with --data as the task's outputData (and
--input as its inputData). A task the run has already scheduled cannot be
skipped. Like "wfrun task complete" it works while "wfrun run" runs the run in
another process and for a run whose process stopped (the next "wfrun resume"
applies it). A _secrets member in --data is protected like any task output.`,
		Example: `  wfrun task skip RUN_ID notify
  wfrun task skip RUN_ID lookup --data '{"id":"42"}' -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			taskOut, err := readJSONArg(cmd, "data", output)
			if err != nil {
				return err
			}
			taskIn, err := readJSONArg(cmd, "input", input)
			if err != nil {
				return err
			}
			c, err := openEngine(cmd, nil, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.SkipTask(cmd.Context(), args[0], args[1], engine.SkipRequest{TaskInput: taskIn, TaskOutput: taskOut}); err != nil {
				return err
			}
			v := delivered{WorkflowID: args[0], TaskRef: args[1], Status: engine.TaskSkipped}
			return out.render(cmd.OutOrStdout(), v, func(t *table) {
				t.line(fmt.Sprintf("task %s of run %s: SKIPPED", v.TaskRef, v.WorkflowID))
			})
		},
	}
	addConfigFlags(cmd)
	cmd.Flags().StringVar(&output, "data", "", "the skipped task's outputData: a JSON object, @FILE or @- for stdin")
	cmd.Flags().StringVar(&input, "input", "", "the skipped task's inputData: a JSON object, @FILE or @- for stdin")
	out.add(cmd)
	cmd.ValidArgsFunction = completeRunIDs
	return cmd
}
