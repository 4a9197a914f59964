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
	}
	cmd.AddCommand(newTaskCompleteCmd())
	return cmd
}

func newTaskCompleteCmd() *cobra.Command {
	var output, status string
	cmd := &cobra.Command{
		Use:   "complete RUN_ID TASK_REF",
		Short: "Complete a WAIT or HUMAN task that waits for an external completion",
		Long: `Complete delivers the completion of a waiting task to its run. It works while
"wfrun run" waits in another process (the run picks it up within a second) and
for a run whose process stopped (the next "wfrun resume" applies it). TASK_REF
may omit a DO_WHILE iteration suffix (__N): the latest waiting iteration is used.`,
		Example: `  wfrun task complete RUN_ID approval --output '{"approved":true}'
  wfrun task complete RUN_ID approval --status FAILED`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := readJSONArg(cmd, "output", output)
			if err != nil {
				return err
			}
			c, err := openEngine(cmd, nil, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			ref, err := c.CompleteTask(cmd.Context(), args[0], args[1], strings.ToUpper(status), out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "task %s of run %s: %s delivered\n", ref, args[0], strings.ToUpper(status))
			return nil
		},
	}
	addConfigFlags(cmd)
	cmd.Flags().StringVar(&output, "output", "", "task output: a JSON object, @FILE or @- for stdin")
	cmd.Flags().StringVar(&status, "status", "COMPLETED", "COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR")
	return cmd
}
