package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
)

// validation is one file's verdict in `validate -o json`.
type validation struct {
	File     string   `json:"file"`
	Valid    bool     `json:"valid"`
	Name     string   `json:"name,omitempty"`
	Version  int      `json:"version,omitempty"`
	Tasks    int      `json:"tasks,omitempty"`
	Problems string   `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

func newValidateCmd() *cobra.Command {
	var (
		allowExec bool
		out       outputFlags
	)
	cmd := &cobra.Command{
		Use:   "validate WORKFLOW.json...",
		Short: "Check workflow definitions without running them",
		Long: `Validate parses each definition and reports every problem with its JSON
location (unknown task types, missing or duplicate taskReferenceName, references to
unknown tasks, bad evaluators, unterminated expressions, ...). EXEC tasks are
valid only with --allow-exec, as for 'wfrun run'. Exit status 2 when a
definition is invalid.`,
		Example: `  wfrun validate testdata/workflows/hello.json
  wfrun validate --allow-exec testdata/workflows/*.json
  wfrun validate wf.json -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			reg := cliRegistry(allowExec, nil) // validation runs no command
			masker := newDefinitionMasker(cmd)
			defer masker.Close()
			var results []validation
			bad := 0
			for _, p := range args {
				v := validation{File: p}
				b, err := os.ReadFile(p)
				if err == nil {
					var def *engine.Definition
					def, err = engine.ParseDefinition(b, engine.WithTaskRegistry(reg))
					if err == nil {
						v.Valid, v.Name, v.Version, v.Tasks = true, def.Name, def.Version, len(def.Tasks)
						v.Warnings = literalURIWarnings(b)
						v.Warnings = append(v.Warnings, definitionWarnings(def)...)
					} else {
						err = masker.mask(b, fmt.Errorf("%s: %w", p, err))
					}
				}
				if err != nil {
					// A read error (*fs.PathError) names the file already.
					v.Problems = err.Error()
					bad++
					if !out.structured() {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
					}
				}
				if !out.structured() && v.Valid {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s v%d, %s)\n", v.File, v.Name, v.Version, plural(v.Tasks, "task"))
					for _, w := range v.Warnings {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s\n", v.File, w)
					}
				}
				results = append(results, v)
			}
			if out.structured() {
				if err := out.render(cmd.OutOrStdout(), results, nil); err != nil {
					return err
				}
			}
			if bad > 0 {
				return invalidErr(fmt.Errorf("%d of %s invalid or unreadable", bad, plural(len(args), "definition")))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&allowExec, "allow-exec", false, "accept EXEC tasks (as 'wfrun run --allow-exec' does)")
	out.add(cmd)
	return cmd
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// definitionWarnings names what in def is valid but will not do what it
// seems to: each reference to a task the definition does not hold where
// Conductor accepts one (it resolves to null), each fork not followed by a
// JOIN (the run fails there, as in Conductor); and what to do about it.
func definitionWarnings(def *engine.Definition) []string {
	var out []string
	for _, p := range def.UnknownReferences() {
		out = append(out, fmt.Sprintf("%s: %s (Conductor checks references only in top-level tasks' inputParameters): check the taskReferenceName",
			p.Location, p.Message))
	}
	for _, t := range def.UnjoinedForks() {
		out = append(out, fmt.Sprintf("%s: %s %q is not followed by a JOIN task, so a run fails when it reaches it (as in Conductor): add a JOIN right after it",
			t.Location(), t.Type, t.TaskReferenceName))
	}
	return out
}
