package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate WORKFLOW.json...",
		Short: "Check workflow definitions without running them",
		Long: `Validate parses each definition and reports every problem with its JSON
location (unknown task types, missing or duplicate taskReferenceName, references to
unknown tasks, bad evaluators, unterminated expressions, ...). Exit status 2 when a
definition is invalid.`,
		Example: `  wfrun validate testdata/workflows/*.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := tasks.NewDefaultRegistry()
			bad := 0
			for _, p := range args {
				b, err := os.ReadFile(p)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", p, err)
					bad++
					continue
				}
				def, err := engine.ParseDefinition(b, engine.WithTaskRegistry(reg))
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", p, err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s v%d, %d tasks)\n", p, def.Name, def.Version, len(def.Tasks))
			}
			if bad > 0 {
				return usageErr(errors.New(plural(bad, "invalid definition")))
			}
			return nil
		},
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
