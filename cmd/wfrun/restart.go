package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/wfrun/wfrun/engine"
)

func newRestartCmd() *cobra.Command {
	var (
		ef        engineFlags
		fromStart bool
		resumeSub bool
		latest    bool
	)
	cmd := &cobra.Command{
		Use:   "restart RUN_ID",
		Short: "Run an ended run again (from its failed tasks, or from the start)",
		Long: `Restart re-executes an ended run under the same id. By default completed tasks
are kept and execution continues from the failed ones; --from-start runs every task
again with the original input. A run that was archived lost its _secrets and
maskedFields data ("***"); if the restarted part would need it, restart refuses
and names what is missing.

A sub-workflow run that runs again re-opens the parent runs it failed: their
SUB_WORKFLOW task waits for it again and they go on when it completes.
--resume-subworkflow-tasks retries, instead of the run, the failed
sub-workflow it ended with (Conductor's retry with resumeSubworkflowTasks).

--use-latest-definitions (implies --from-start) restarts the run on the highest
version of its workflow definition found in --definitions DIR or, without it,
in the directory of the file the run was started from; when there is no such
directory or no definition of the run's name there, restart refuses (exit 1)
and leaves the run as it was. Task definitions are always the current ones.`,
		Example: `  wfrun restart RUN_ID
  wfrun restart RUN_ID --from-start
  wfrun restart RUN_ID --use-latest-definitions --definitions ./workflows
  wfrun restart PARENT_RUN_ID --resume-subworkflow-tasks`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ef.out.check(); err != nil {
				return err
			}
			c, err := openEngine(cmd, &ef, ef.progress(cmd))
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, stop := signalContext(cmd)
			defer stop()
			if fromStart && resumeSub {
				return usageErr(errors.New("--from-start and --resume-subworkflow-tasks exclude each other"))
			}
			if latest && resumeSub {
				return usageErr(errors.New("--use-latest-definitions and --resume-subworkflow-tasks exclude each other"))
			}
			var res *engine.Result
			switch {
			case resumeSub:
				res, err = c.Retry(ctx, args[0], true)
			case latest:
				res, err = c.RestartWith(ctx, args[0], engine.RestartOptions{UseLatestDefinitions: true})
			default:
				res, err = c.Restart(ctx, args[0], fromStart)
			}
			waitStarted(ctx, cmd, &ef, c)
			return finishRun(cmd, &ef, res, err)
		},
	}
	addConfigFlags(cmd)
	ef.add(cmd)
	cmd.Flags().BoolVar(&fromStart, "from-start", false, "re-run every task with the original input")
	cmd.Flags().BoolVar(&latest, "use-latest-definitions", false, "restart from the start on the newest version of the run's workflow definition")
	cmd.Flags().BoolVar(&resumeSub, "resume-subworkflow-tasks", false, "retry the failed sub-workflow the run ended with (its parents are re-opened)")
	return cmd
}
