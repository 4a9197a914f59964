package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// runStatuses are the values --status accepts.
var runStatuses = []string{engine.StatusRunning, engine.StatusCompleted, engine.StatusFailed,
	engine.StatusTimedOut, engine.StatusTerminated, engine.StatusPaused}

// parseRunStatus validates --status (any case) as a usage error.
func parseRunStatus(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	for _, st := range runStatuses {
		if strings.EqualFold(s, st) {
			return st, nil
		}
	}
	return "", usageErr(fmt.Errorf("--status %q: want one of %s", s, strings.Join(runStatuses, ", ")))
}

// runsToken is the continuation token of `wfrun runs`: the position of the
// last run printed (newest-first order: createTime, then id).
func runsToken(s runstore.Summary) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(s.CreateTime, 10) + "," + s.ID))
}

// afterToken drops the runs up to and including the token's position.
func afterToken(list []runstore.Summary, tok string) ([]runstore.Summary, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	ts, id, ok := strings.Cut(string(b), ",")
	t, perr := strconv.ParseInt(ts, 10, 64)
	if err != nil || !ok || perr != nil {
		return nil, usageErr(errors.New("--continuation-token: not a token printed by 'wfrun runs'"))
	}
	for i, s := range list {
		if s.CreateTime < t || (s.CreateTime == t && s.ID < id) {
			return list[i:], nil
		}
	}
	return nil, nil
}

func newRunsCmd() *cobra.Command {
	var (
		out           outputFlags
		status, token string
		limit         int
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runs, newest first, a page at a time",
		Long: `List runs, newest first. At most --limit runs are printed (0: all); when
there are more, the command to print the next page is printed on stderr.
EXECUTOR says, for a RUNNING run, whether a live process executes it (its pid and
host) or it is orphaned (its process died: wfrun resume or wfrun terminate it).`,
		Example: `  wfrun runs
  wfrun runs --status FAILED -o json
  wfrun runs --limit 20 --continuation-token TOKEN
  wfrun runs --field workflowId`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			st, err := parseRunStatus(status)
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageErr(fmt.Errorf("--limit %d: want 0 (all) or more", limit))
			}
			rs, err := openRunStore(cmd)
			if err != nil {
				return err
			}
			defer rs.Close()
			list, err := rs.List(cmd.Context(), runstore.ListOptions{Status: st})
			if err != nil {
				return err
			}
			if token != "" {
				if list, err = afterToken(list, token); err != nil {
					return err
				}
			}
			next := ""
			if limit > 0 && len(list) > limit {
				list = list[:limit]
				next = runsToken(list[len(list)-1])
			}
			if list == nil {
				list = []runstore.Summary{}
			}
			if err := out.render(cmd.OutOrStdout(), list, func(t *table) {
				t.row("RUN", "WORKFLOW", "VERSION", "STATUS", "CREATED", "ARCHIVED", "EXECUTOR")
				for _, s := range list {
					t.row(s.ID, s.WorkflowType, strconv.Itoa(s.Version), s.Status, millis(s.CreateTime), strconv.FormatBool(s.Archived), executor(s))
				}
			}); err != nil {
				return err
			}
			warnDamaged(cmd, rs)
			if next != "" {
				again := fmt.Sprintf("wfrun runs --limit %d --continuation-token %s", limit, next)
				if st != "" {
					again += " --status " + st
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "more runs: %s\n", again)
			}
			return nil
		},
	}
	addConfigFlags(cmd)
	out.add(cmd)
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status: "+strings.Join(runStatuses, ", "))
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many runs (0: all)")
	cmd.Flags().StringVar(&token, "continuation-token", "", "print the page after the one that printed this token")
	_ = cmd.RegisterFlagCompletionFunc("status", fixedCompletion(runStatuses...))
	cmd.AddCommand(newRunsRmCmd())
	return cmd
}

// warnDamaged says on stderr which journal entries the run store kept
// aside as damaged (a bolt store's bucket "damaged"): each names the file,
// its key, and its run or why the run is unknown.
func warnDamaged(cmd *cobra.Command, rs runstore.Store) {
	d, ok := rs.(interface {
		Damaged(context.Context) ([]runstore.DamagedEntry, error)
	})
	if !ok {
		return
	}
	kept, err := d.Damaged(cmd.Context())
	if err != nil {
		return // List just read the same file: nothing more to say
	}
	const most = 5
	for i, e := range kept {
		if i == most {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: and %d more damaged journal entries\n", len(kept)-most)
			break
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", e.Err)
	}
}
