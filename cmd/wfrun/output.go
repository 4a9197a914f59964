package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// Output formats accepted by -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// addOutputFlag registers -o/--output on cmd, with shell completion.
func addOutputFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "output", "o", formatTable, "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{formatTable, formatJSON, formatYAML}, cobra.ShellCompDirectiveNoFileComp
	})
}

// checkFormat validates an -o value early, as a usage error.
func checkFormat(format string) error {
	switch format {
	case formatTable, formatJSON, formatYAML, "":
		return nil
	}
	return usageErr(fmt.Errorf("-o %q: want table, json or yaml", format))
}

// render writes v to w in format. JSON and YAML render v itself (through its
// JSON tags, so both show the same field names); table calls table with a
// tab-separated writer whose columns are aligned when it returns. A nil table
// falls back to JSON. Callers must put only displayable data in v: render
// does no masking.
func render(w io.Writer, format string, v any, table func(tw io.Writer) error) error {
	switch format {
	case formatJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case formatYAML:
		// Round-trip through JSON so YAML keys match the JSON tags.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		out, err := yaml.Marshal(jsonNumbersToYAML(generic))
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	case formatTable, "":
		if table == nil {
			return render(w, formatJSON, v, nil)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if err := table(tw); err != nil {
			return err
		}
		return tw.Flush()
	}
	return usageErr(fmt.Errorf("-o %q: want table, json or yaml", format))
}

// jsonNumbersToYAML turns json.Number into int64/float64 so YAML prints
// numbers, not strings.
func jsonNumbersToYAML(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = jsonNumbersToYAML(e)
		}
	case []any:
		for i, e := range t {
			t[i] = jsonNumbersToYAML(e)
		}
	}
	return v
}

// row writes one tab-separated table row; cells never contain tabs or
// newlines (they are replaced) so a value cannot break the layout.
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}
