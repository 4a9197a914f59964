package main

import (
	"github.com/spf13/cobra"
)

func newRestartCmd() *cobra.Command {
	var (
		ef        engineFlags
		fromStart bool
	)
	cmd := &cobra.Command{
		Use:   "restart RUN_ID",
		Short: "Run an ended run again (from its failed tasks, or from the start)",
		Long: `Restart re-executes an ended run under the same id. By default completed tasks
are kept and execution continues from the failed ones; --from-start runs every task
again with the original input. A run that was archived lost its _secrets and
maskedFields data ("***"); if the restarted part would need it, restart refuses
and names what is missing.`,
		Example: `  wfrun restart RUN_ID
  wfrun restart RUN_ID --from-start`,
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
			res, err := c.Restart(ctx, args[0], fromStart)
			waitStarted(ctx, cmd, &ef, c)
			return finishRun(cmd, &ef, res, err)
		},
	}
	addConfigFlags(cmd)
	ef.add(cmd)
	cmd.Flags().BoolVar(&fromStart, "from-start", false, "re-run every task with the original input")
	return cmd
}
