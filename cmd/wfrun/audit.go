package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/store"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the secret store's audit trail",
		Long: `Every secret operation — a read for a run (with its run id and task ref),
set, delete, tag, list, history, sweep, rekey; allowed or denied — appends a
record: time, principal, operation, scope, name, version, outcome. Never a
value. Records are hash-chained, so 'wfrun audit verify' detects a record
that was edited, inserted or removed. bolt keeps them in secrets.db, Redis
in a stream.`,
		Example: `  wfrun audit ls --name api_token
  wfrun audit verify`,
	}
	addConfigFlags(cmd)
	cmd.AddCommand(newAuditLsCmd(), newAuditVerifyCmd())
	return cmd
}

// openAuditor opens the configured store's audit trail.
func openAuditor(cmd *cobra.Command) (store.Auditor, func() error, error) {
	s, err := openStore(cmd)
	if err != nil {
		return nil, nil, err
	}
	a, ok := store.AuditorOf(s)
	if !ok {
		_ = s.Close()
		return nil, nil, fmt.Errorf("audit: %w: this store keeps no audit trail (bolt and Redis stores do)", store.ErrUnsupported)
	}
	return a, s.Close, nil
}

func newAuditLsCmd() *cobra.Command {
	var (
		out       outputFlags
		name, run string
	)
	cmd := &cobra.Command{
		Use:   "ls [--name NAME] [--run RUN_ID]",
		Short: "List audit records, oldest first",
		Example: `  wfrun audit ls
  wfrun audit ls --name api_token
  wfrun audit ls --run 3f2c… -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := out.check(); err != nil {
				return err
			}
			a, closeFn, err := openAuditor(cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, closeFn()) }()
			evs, err := a.ReadAudit(cmd.Context(), store.AuditFilter{Name: name, Run: run})
			if err != nil {
				return err
			}
			if evs == nil {
				evs = []store.AuditEvent{}
			}
			return out.render(cmd.OutOrStdout(), evs, func(t *table) {
				t.row("SEQ", "TIME", "PRINCIPAL", "OP", "SCOPE", "NAME", "VERSION", "OUTCOME", "RUN", "TASK")
				for _, e := range evs {
					version := ""
					if e.Version > 0 {
						version = strconv.FormatInt(e.Version, 10)
					}
					t.row(strconv.FormatInt(e.Seq, 10), e.Time.Format(time.RFC3339), e.Principal, e.Op, e.Scope, e.Name, version, e.Outcome, e.Run, e.Task)
				}
			})
		},
	}
	out.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "only records about this secret")
	cmd.Flags().StringVar(&run, "run", "", "only records of this run")
	return cmd
}

func newAuditVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "verify",
		Short:   "Check the audit trail's hash chain and every secret against it; exit 1 naming the first record or secret that does not verify",
		Example: "  wfrun audit verify",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			a, closeFn, err := openAuditor(cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, closeFn()) }()
			n, err := a.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit trail verified: %d record(s)\n", n)
			return nil
		},
	}
}
