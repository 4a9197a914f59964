package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
)

// newEvalCmd resolves a JSON document's expressions against a context file: the quickest way
// for a user to debug an expression without running a workflow.
func newEvalCmd() *cobra.Command {
	var docPath, ctxPath string
	var reveal bool
	cmd := &cobra.Command{
		Use:   "eval --doc FILE|- --context FILE [--reveal]",
		Short: "Resolve the ${...} expressions of a JSON document against a context",
		Long: `Resolve every expression of a JSON document (task inputParameters, workflow
outputParameters, any JSON value) against a context document and print the result as
indented JSON. Secrets come from the context's "secrets" object and are printed as "***"
unless --reveal is given.

The context document has the shape
  {"workflow":{...}, "tasks":{"ref":{...}}, "taskId":"...", "secrets":{"name":value}, "env":{"name":value}}

A bad expression prints its JSON location and byte offset and exits with status 2.`,
		Example: `  wfrun eval --doc testdata/eval/task.json --context testdata/eval/context.json
  echo '"Bearer ${workflow.secrets.api_token}"' | wfrun eval --doc - --context ctx.json --reveal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if docPath == "" || ctxPath == "" {
				return usageErr(errors.New("eval: --doc and --context are required"))
			}
			doc, err := readInput(cmd.InOrStdin(), docPath)
			if err != nil {
				return usageErr(fmt.Errorf("eval: --doc: %w", err))
			}
			ctxDoc, err := os.ReadFile(ctxPath)
			if err != nil {
				return usageErr(fmt.Errorf("eval: --context: %w", err))
			}
			env, err := interpolate.NewDocEnv(ctxDoc)
			if err != nil {
				return usageErr(fmt.Errorf("eval: --context %s: %w", ctxPath, err))
			}
			tpl, err := interpolate.Compile(doc)
			if err != nil {
				return usageErr(fmt.Errorf("eval: %s: %w", docPath, err))
			}
			out, used, err := tpl.Execute(context.Background(), env, interpolate.ResolveSecrets, nil)
			if err != nil {
				return usageErr(fmt.Errorf("eval: %s: %w", docPath, err))
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "  "); err != nil {
				return fmt.Errorf("eval: result is not JSON: %w", err)
			}
			text := strings.TrimRight(pretty.String(), "\n")
			if !reveal {
				text = maskValues(text, used)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), text)
			return err
		},
	}
	cmd.Flags().StringVar(&docPath, "doc", "", "JSON document to resolve (- for stdin)")
	cmd.Flags().StringVar(&ctxPath, "context", "", "context JSON: workflow, tasks, taskId, secrets, env")
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print secret values instead of ***")
	return cmd
}

func readInput(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}

// maskValues masks every reported secret value in the printed text with
// wfrun's masker, which knows the forms a value takes in JSON text (escaped
// <, > and &, \uXXXX escapes of non-ASCII characters, ...), not only the
// value as it is.
func maskValues(text string, used []interpolate.Secret) string {
	m := masking.New(masking.WithLogger(nil))
	for _, s := range used {
		m.Register(s.Value)
	}
	return m.MaskString(text)
}
