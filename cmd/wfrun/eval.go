package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/interpolate"
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

// maskValues replaces every reported secret value by "***" in the printed text, in its
// JSON-escaped form (how it appears in the output). Longest first, so a value containing
// another is masked whole. A plain replacement for now; the masking package supersedes it.
func maskValues(text string, used []interpolate.Secret) string {
	forms := make([]string, 0, len(used))
	for _, s := range used {
		if s.Value == "" {
			continue
		}
		q, _ := json.Marshal(s.Value)
		forms = append(forms, string(q[1:len(q)-1]))
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, f := range forms {
		text = strings.ReplaceAll(text, f, "***")
	}
	return text
}
