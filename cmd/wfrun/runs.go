package main

import (
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine/runstore"
)

func newRunsCmd() *cobra.Command {
	var (
		format, status string
		limit          int
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runs, newest first",
		Example: `  wfrun runs
  wfrun runs --status RUNNING -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			rs, err := openRunStore(cmd)
			if err != nil {
				return err
			}
			defer rs.Close()
			list, err := rs.List(cmd.Context(), runstore.ListOptions{Status: status, Limit: limit})
			if err != nil {
				return err
			}
			if list == nil {
				list = []runstore.Summary{}
			}
			return render(cmd.OutOrStdout(), format, list, func(tw io.Writer) error {
				row(tw, "RUN", "WORKFLOW", "VERSION", "STATUS", "CREATED", "ARCHIVED")
				for _, s := range list {
					row(tw, s.ID, s.WorkflowType, strconv.Itoa(s.Version), s.Status, millis(s.CreateTime), strconv.FormatBool(s.Archived))
				}
				return nil
			})
		},
	}
	addConfigFlags(cmd)
	addOutputFlag(cmd, &format)
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs (0 = all)")
	return cmd
}
