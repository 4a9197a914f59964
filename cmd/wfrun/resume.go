package main

import (
	"github.com/spf13/cobra"
)

func newResumeCmd() *cobra.Command {
	var ef engineFlags
	cmd := &cobra.Command{
		Use:   "resume RUN_ID",
		Short: "Continue a RUNNING run whose process stopped",
		Long: `Resume continues a run from its persisted state, for example after the process
running it was killed. Tasks that completed are not executed again; a task that was
in progress is executed again; a WAIT keeps its original deadline.`,
		Example: `  wfrun resume 3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f
  wfrun resume RUN_ID --worker enrich=./enrich.sh`,
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
			res, err := c.Resume(ctx, args[0])
			waitStarted(ctx, cmd, &ef, c)
			return finishRun(cmd, &ef, res, err)
		},
	}
	addConfigFlags(cmd)
	ef.add(cmd)
	return cmd
}
