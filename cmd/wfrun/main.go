// Command wfrun runs Conductor-style JSON workflows with real secrets handling:
// secret references resolved at execution time, masked outputs, an encrypted
// embedded secret store and a Redis store for shared use.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

const rootExamples = `  wfrun run testdata/workflows/hello.json --input '{"name":"world","times":3}'
  printf '%s' "$API_TOKEN" | wfrun secret set api_token
  wfrun runs --status FAILED -o json
  wfrun eval --doc task.json --context ctx.json`

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "wfrun",
		Short: "Run JSON workflows with real secrets handling",
		Long: `wfrun runs Conductor-style JSON workflows locally, with secrets resolved when a
task runs and masked everywhere else.

Exit status: 0 success; 1 a run that did not complete or an operation that
failed; 2 bad usage (unknown command or flag, wrong arguments, a malformed
flag value, an invalid workflow definition).

Environment: WFRUN_HOME, WFRUN_STORE, WFRUN_MASTER_KEY (see README.md),
WFRUN_OUTPUT (default for -o), NO_COLOR (no colours).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		Example:       rootExamples,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if f := os.Getenv(envOutput); f != "" {
			if err := validFormatName(f); err != nil {
				return usageErr(fmt.Errorf("%s: %w", envOutput, err))
			}
		}
		return checkHome(cmd)
	}
	root.PersistentFlags().Bool("verbose", false, "print diagnostic detail (driver messages, stack traces of internal errors) on stderr")
	// A malformed or unknown flag anywhere is bad usage; subcommands inherit
	// this unless they set their own.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(withholdArgument(c, err)) })
	// Each subcommand lives in its own file; add new ones in commands().
	root.AddCommand(commands()...)
	enforceConventions(root)
	return root
}

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// verbose reports whether --verbose was given to cmd (or its parents).
func verbose(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("verbose")
	return v
}

// execute runs wfrun with args and returns the process exit status. It is
// the one path from an error (or a panic) to a message and a status: main
// and the tests both go through it.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	quietDrivers(hasVerboseArg(args), stderr)
	return executeRoot(ctx, newRootCmd(), args, stdin, stdout, stderr)
}

// executeRoot is execute on a given command tree.
func executeRoot(ctx context.Context, root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	if args == nil {
		// No arguments: cobra would read the process's own (os.Args)
		// for a nil slice, which in a test binary are the test's flags.
		args = []string{}
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	defer func() {
		if r := recover(); r != nil {
			reportPanic(stderr, args, r, hasVerboseArg(args))
			code = exitFailed
		}
	}()
	cmd, err := root.ExecuteContextC(ctx)
	return reportError(stderr, cmd, err)
}
