// Command wfrun runs Conductor-style JSON workflows with real secrets handling:
// secret references resolved at execution time, masked outputs, an encrypted
// embedded secret store and a Redis store for shared use.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as bad usage (exit status 2).
func usageErr(err error) error { return &exitError{code: 2, err: err} }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "wfrun",
		Short:         "Run JSON workflows with real secrets handling",
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  wfrun run testdata/workflows/hello.json --input '{"name":"world"}'
  wfrun secret set api_token --value s3cr3t
  wfrun eval --doc task.json --context ctx.json`,
	}
	// Each subcommand lives in its own file; add new ones here.
	root.AddCommand(commands()...)
	return root
}

func main() {
	root := newRootCmd()
	err := root.Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "wfrun:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}
