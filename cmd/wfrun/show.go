package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine"
)

// shownRun is what `wfrun show` renders from the masked view.
type shownRun struct {
	WorkflowID            string          `json:"workflowId"`
	WorkflowType          string          `json:"workflowType"`
	Version               int             `json:"version"`
	Status                string          `json:"status"`
	ReasonForIncompletion string          `json:"reasonForIncompletion,omitempty"`
	CreateTime            int64           `json:"createTime"`
	EndTime               int64           `json:"endTime,omitempty"`
	Input                 json.RawMessage `json:"input"`
	Output                json.RawMessage `json:"output"`
	Variables             json.RawMessage `json:"variables"`
	Tasks                 []struct {
		Ref        string          `json:"referenceTaskName"`
		Type       string          `json:"taskType"`
		Status     string          `json:"status"`
		RetryCount int             `json:"retryCount"`
		Reason     string          `json:"reasonForIncompletion"`
		StartTime  int64           `json:"startTime"`
		EndTime    int64           `json:"endTime"`
		Input      json.RawMessage `json:"inputData"`
		Output     json.RawMessage `json:"outputData"`
	} `json:"tasks"`
}

func newShowCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show a run (masked view)",
		Long: `Show prints a run as stored, in its masked view: registered secret values were
masked before storage, and _secrets, _masked and maskedFields values display as "***".
-o json / yaml print the whole execution document; the table is a summary.`,
		Example: `  wfrun show RUN_ID
  wfrun show RUN_ID -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := openEngine(cmd, nil, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			view, err := c.Show(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var doc any
			dec := json.NewDecoder(bytes.NewReader(view))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				return err
			}
			if m, ok := doc.(map[string]any); ok && format != formatTable && format != "" {
				// The stored definition is kept for resume; it is noise here.
				delete(m, "workflowDefinition")
				// So is the engine's bookkeeping (seals, counts, principal).
				for _, k := range engine.HeadBookkeeping() {
					delete(m, k)
				}
			}
			var s shownRun
			if err := json.Unmarshal(view, &s); err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), format, doc, func(tw io.Writer) error {
				row(tw, "RUN", s.WorkflowID)
				row(tw, "WORKFLOW", fmt.Sprintf("%s v%d", s.WorkflowType, s.Version))
				row(tw, "STATUS", s.Status)
				if s.ReasonForIncompletion != "" {
					row(tw, "REASON", s.ReasonForIncompletion)
				}
				row(tw, "CREATED", millis(s.CreateTime))
				if s.EndTime != 0 {
					row(tw, "ENDED", millis(s.EndTime))
				}
				row(tw, "INPUT", compact(s.Input))
				row(tw, "OUTPUT", compact(s.Output))
				row(tw, "VARIABLES", compact(s.Variables))
				row(tw, "")
				row(tw, "TASK", "TYPE", "STATUS", "RETRY", "DURATION", "OUTPUT / REASON")
				for _, t := range s.Tasks {
					detail := compact(t.Output)
					if t.Reason != "" {
						detail = t.Reason
					}
					dur := ""
					if t.StartTime != 0 && t.EndTime >= t.StartTime {
						dur = (time.Duration(t.EndTime-t.StartTime) * time.Millisecond).String()
					}
					row(tw, t.Ref, t.Type, t.Status, strconv.Itoa(t.RetryCount), dur, detail)
				}
				return nil
			})
		},
	}
	addConfigFlags(cmd)
	addOutputFlag(cmd, &format)
	// A run is authenticated before it is shown: one an earlier wfrun
	// stored (no head seal) is shown only when the user says to believe it.
	cmd.Flags().Bool("trust-unsealed-runs", false, "believe stored runs whose head carries no seal (runs a wfrun before 2026-12 stored)")
	return cmd
}

func millis(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

func compact(b json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}
