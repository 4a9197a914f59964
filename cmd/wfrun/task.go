package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newTaskCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Act on the tasks of a run",
		Example: `  wfrun task complete RUN_ID approval --data '{"approved":true}'
  wfrun task signal RUN_ID --data '{"approved":true}'`,
	}
	cmd.AddCommand(newTaskCompleteCmd(), newTaskSignalCmd())
	return cmd
}

func newTaskCompleteCmd() *cobra.Command {
	var (
		output, status string
		out            outputFlags
	)
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
			if err := out.check(); err != nil {
				return err
			}
			st := strings.ToUpper(status)
			switch st {
			case "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR":
			default:
				return usageErr(fmt.Errorf("--status %q: want COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR", status))
			}
			taskOut, err := readJSONArg(cmd, "data", output)
			if err != nil {
				return err
			}
			c, err := openEngine(cmd, nil, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			ref, err := c.CompleteTask(cmd.Context(), args[0], args[1], st, taskOut)
			if err != nil {
				return err
			}
			v := struct {
				WorkflowID string `json:"workflowId"`
				TaskRef    string `json:"referenceTaskName"`
				Status     string `json:"status"`
			}{args[0], ref, st}
			return out.render(cmd.OutOrStdout(), v, func(t *table) {
				t.line(fmt.Sprintf("task %s of run %s: %s delivered", ref, args[0], st))
			})
		},
	}
	addConfigFlags(cmd)
	cmd.Flags().StringVar(&output, "data", "", "the task's outputData: a JSON object, @FILE or @- for stdin")
	cmd.Flags().StringVar(&status, "status", "COMPLETED", "COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"))
	cmd.ValidArgsFunction = completeRunThenTask
	out.add(cmd)
	return cmd
}

func newTaskSignalCmd() *cobra.Command {
	var (
		output, status string
		out            outputFlags
	)
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
			if err := out.check(); err != nil {
				return err
			}
			st := strings.ToUpper(status)
			switch st {
			case "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR":
			default:
				return usageErr(fmt.Errorf("--status %q: want COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR", status))
			}
			taskOut, err := readJSONArg(cmd, "data", output)
			if err != nil {
				return err
			}
			c, err := openEngine(cmd, nil, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			got, err := c.Signal(cmd.Context(), args[0], st, taskOut)
			if err != nil {
				return err
			}
			v := struct {
				WorkflowID string `json:"workflowId"`
				TaskID     string `json:"taskId"`
				TaskRef    string `json:"referenceTaskName"`
				Status     string `json:"status"`
			}{got.RunID, got.TaskID, got.Ref, st}
			return out.render(cmd.OutOrStdout(), v, func(t *table) {
				t.line(fmt.Sprintf("task %s of run %s: %s delivered", got.Ref, got.RunID, st))
			})
		},
	}
	addConfigFlags(cmd)
	cmd.Flags().StringVar(&output, "data", "", "the task's outputData: a JSON object, @FILE or @- for stdin")
	cmd.Flags().StringVar(&status, "status", "COMPLETED", "COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion("COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"))
	cmd.ValidArgsFunction = completeRunIDs
	out.add(cmd)
	return cmd
}
