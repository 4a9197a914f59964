package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// Exit statuses, as the root help documents them.
const (
	exitOK     = 0
	exitFailed = 1 // a run that did not complete, an operation that failed
	exitUsage  = 2 // unknown command or flag, wrong arguments, malformed values
)

// exitError carries a process exit code through cobra's error return.
type exitError struct {
	code int
	err  error
	// silent: the command already said everything (stdout); print nothing.
	silent bool
	// helpHint: the fix is in the command line; point at --help.
	helpHint bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as bad usage (exit status 2).
func usageErr(err error) error { return &exitError{code: exitUsage, err: err, helpHint: true} }

// invalidErr marks err as invalid input in a file (a workflow definition):
// exit status 2 like bad usage, but the fix is in the file, not the flags.
func invalidErr(err error) error { return &exitError{code: exitUsage, err: err} }

// failed marks err as a failed operation (exit status 1), the default for an
// error; it exists for errors that must not be mistaken for usage errors.
func failed(err error) error { return &exitError{code: exitFailed, err: err} }

// exitCode maps an error returned by a command to the process status.
func statusOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra reports these without a type of its own.
	msg := err.Error()
	if strings.HasPrefix(msg, "required flag(s)") || strings.HasPrefix(msg, "if any flags in the group") ||
		strings.HasPrefix(msg, "at least one of the flags in the group") || strings.HasPrefix(msg, "unknown command") {
		return exitUsage
	}
	return exitFailed
}

// enforceConventions walks the command tree once it is built, so commands
// added by any file get the same behaviour: wrong arguments are usage errors
// (exit 2), a command group given an unknown subcommand says so and exits 2
// instead of printing its help and exiting 0.
func enforceConventions(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			c.Example = defaultExample(c)
		}
		if f, ok := argCompletions[c.CommandPath()]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = f
		}
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = func(c *cobra.Command, args []string) error {
				if len(args) > 0 {
					return unknownCommand(c, args[0])
				}
				return nil
			}
			c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		} else if args := c.Args; args != nil {
			c.Args = func(c *cobra.Command, a []string) error {
				if err := args(c, a); err != nil {
					return usageErr(fmt.Errorf("wrong arguments for '%s %s': %w", c.Parent().CommandPath(), c.Use, err))
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// unknownCommand does not print the name given: it may be a value typed
// in the wrong place (withheld.go).
func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", withheld, c.CommandPath())
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageErr(errors.New(msg))
}

// reportError prints err as one line (what, where, what to do) and returns
// the exit status.
func reportError(w io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	code := statusOf(err)
	var ee *exitError
	if errors.As(err, &ee) && ee.silent {
		return code
	}
	msg := strings.TrimSpace(err.Error())
	if h := hint(err); h != "" && !strings.Contains(msg, h) && !strings.Contains(msg, "wfrun resume") {
		msg += "; " + h
	}
	if (ee == nil || ee.helpHint) && code == exitUsage && cmd != nil {
		msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
	}
	fmt.Fprintln(w, "wfrun:", msg)
	return code
}

// hint is the "what to do" of errors whose own text cannot know it.
func hint(err error) string {
	switch {
	case errors.Is(err, runstore.ErrNotFound):
		return "'wfrun runs' lists the run ids"
	case errors.Is(err, store.ErrNotFound):
		return "'wfrun secret ls' lists the names"
	case errors.Is(err, context.Canceled):
		return ""
	case unreachable(err):
		return "is the server up, and WFRUN_STORE (or --store) right? (--verbose shows the driver's messages)"
	}
	return ""
}

// unreachable reports a network failure to reach a store.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, store.ErrUnavailable) ||
		errors.Is(err, runstore.ErrUnavailable)
}

// reportPanic turns a panic into one line and exit status 1; the value and
// the stack only with --verbose (a value could quote input).
func reportPanic(w io.Writer, args []string, r any, verbose bool) {
	where := "wfrun"
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		where += " " + a
		if len(where) > 40 {
			break
		}
	}
	if verbose {
		fmt.Fprintf(w, "wfrun: internal error in %q: %v\n%s", where, r, debug.Stack())
		return
	}
	fmt.Fprintf(w, "wfrun: internal error in %q (a bug; please report it): run again with --verbose for details\n", where)
}

// hasVerboseArg looks for --verbose before cobra parses the flags: the panic
// report and the driver loggers need it before (or without) a parsed command.
func hasVerboseArg(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--verbose" || a == "--verbose=true" {
			return true
		}
	}
	return false
}

// quietDrivers sends the Redis client's own log lines (dial retries,
// pool chatter) to stderr only with --verbose: without it the one-line error
// says what failed.
func quietDrivers(verbose bool, stderr io.Writer) {
	if verbose {
		redis.SetLogger(driverLogger{log.New(stderr, "", log.LstdFlags)})
		return
	}
	redis.SetLogger(driverLogger{log.New(io.Discard, "", 0)})
}

type driverLogger struct{ l *log.Logger }

func (d driverLogger) Printf(_ context.Context, format string, v ...any) { d.l.Printf(format, v...) }

// defaultExample gives cobra's own commands (help, completion) the example
// every wfrun command has.
func defaultExample(c *cobra.Command) string {
	switch {
	case c.Name() == "help":
		return "  wfrun help secret set"
	case c.Name() == "completion":
		return "  source <(wfrun completion bash)\n  wfrun completion zsh > \"${fpath[1]}/_wfrun\""
	case c.HasParent() && c.Parent().Name() == "completion":
		return map[string]string{
			"bash":       "  source <(wfrun completion bash)",
			"zsh":        "  wfrun completion zsh > \"${fpath[1]}/_wfrun\"",
			"fish":       "  wfrun completion fish > ~/.config/fish/completions/wfrun.fish",
			"powershell": "  wfrun completion powershell | Out-String | Invoke-Expression",
		}[c.Name()]
	}
	return ""
}
