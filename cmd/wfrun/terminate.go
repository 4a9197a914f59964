package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

func newTerminateCmd() *cobra.Command {
	var reason string
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "terminate RUN_ID",
		Short: "End a RUNNING run (and its sub-workflow runs) with status TERMINATED",
		Long: `Terminate ends a RUNNING run, whichever process executes it. A run that a live
process executes is ended by that process (terminate asks it and waits); a run whose
process died is ended here. Tasks still scheduled or running are cancelled, the run
is archived, and its RUNNING sub-workflow runs are terminated too.`,
		Example: `  wfrun terminate 3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f
  wfrun terminate RUN_ID --reason "stuck on a dead endpoint" -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			c, err := openEngine(cmd, nil, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, stop := signalContext(cmd)
			defer stop()
			if err := c.Terminate(ctx, args[0], reason); err != nil {
				return failed(err)
			}
			done := struct {
				WorkflowID string `json:"workflowId"`
				Status     string `json:"status"`
			}{args[0], engine.StatusTerminated}
			return out.render(cmd.OutOrStdout(), done, func(t *table) {
				t.line(fmt.Sprintf("run %s terminated", args[0]))
			})
		},
	}
	addConfigFlags(cmd)
	out.add(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept as the run's reasonForIncompletion)")
	return cmd
}

func newRunsRmCmd() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "rm RUN_ID...",
		Short: "Delete ended runs",
		Long: `Delete ended (archived) runs from the run store. A run that has not ended is
refused: terminate it first.`,
		Example: `  wfrun runs rm 3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f
  wfrun runs rm RUN_ID OTHER_RUN_ID -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			rs, err := openRunStore(cmd)
			if err != nil {
				return err
			}
			defer rs.Close()
			type deletion struct {
				WorkflowID string `json:"workflowId"`
				Deleted    bool   `json:"deleted"`
			}
			var errs []error
			var done []deletion
			for _, id := range args {
				err := rs.Delete(cmd.Context(), id)
				switch {
				case errors.Is(err, runstore.ErrNotEnded):
					errs = append(errs, fmt.Errorf("run %s has not ended (wfrun terminate %s first)", id, id))
				case err != nil:
					errs = append(errs, fmt.Errorf("run %s: %w", id, err))
				}
				done = append(done, deletion{id, err == nil})
			}
			if err := out.render(cmd.OutOrStdout(), done, func(t *table) {
				for _, d := range done {
					if d.Deleted {
						t.line(fmt.Sprintf("run %s deleted", d.WorkflowID))
					}
				}
			}); err != nil {
				return err
			}
			if len(errs) > 0 {
				return failed(errors.Join(errs...))
			}
			return nil
		},
	}
	addConfigFlags(cmd)
	out.add(cmd)
	return cmd
}

// executor says, for a RUNNING run, whether a live process executes it.
func executor(s runstore.Summary) string {
	if s.Status != engine.StatusRunning || s.Archived {
		return ""
	}
	if s.Lease == nil || !s.Lease.Live(time.Now()) {
		return "orphaned"
	}
	return fmt.Sprintf("live (pid %d on %s)", s.Lease.PID, s.Lease.Host)
}

// leaseTTL is WFRUN_LEASE_TTL (a Go duration): how long a run's lease
// outlives its process's last heartbeat.
func leaseTTL() (time.Duration, bool, error) {
	v := os.Getenv("WFRUN_LEASE_TTL")
	if v == "" {
		return 0, false, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, false, usageErr(fmt.Errorf("WFRUN_LEASE_TTL %q: want a positive duration such as 10s", v))
	}
	return d, true, nil
}
