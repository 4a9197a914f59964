package main

import "github.com/spf13/cobra"

// commands lists the top-level subcommands. Each constructor lives in its own
// file (eval.go, secret.go, run.go, ...).
func commands() []*cobra.Command {
	return []*cobra.Command{
		newVersionCmd(),
		newEvalCmd(),
		newSecretCmd(),
		newRunCmd(),
		newShowCmd(),
		newRunsCmd(),
		newRestartCmd(),
		newResumeCmd(),
		newTerminateCmd(),
		newValidateCmd(),
		newTaskCmd(),
		newDemoTokenServerCmd(),
		newServeCmd(),
		newWorkerCmd(),
		newAuditCmd(),
	}
}
