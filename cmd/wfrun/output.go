package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// Output formats accepted by -o / WFRUN_OUTPUT.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// envOutput names the variable that sets the default of -o.
const envOutput = "WFRUN_OUTPUT"

// fieldPrefix marks a format that prints one field (--field NAME).
const fieldPrefix = "field:"

// maxCell is the widest table cell; a longer value is elided (the full
// value is in -o json / yaml).
const maxCell = 80

// outputFlags is -o/--output and --field of one command. A command with
// structured output adds it, checks it before doing anything, and renders
// through it.
type outputFlags struct{ format string }

func (o *outputFlags) add(cmd *cobra.Command) { addOutputFlag(cmd, &o.format) }
func (o *outputFlags) check() error           { return checkFormat(o.format) }

// structured reports whether the output is for programs (json, yaml or one
// field) rather than a table for people.
func (o *outputFlags) structured() bool { return o.format != formatTable && o.format != "" }

// render writes v in the chosen format; fill draws the table form.
func (o *outputFlags) render(w io.Writer, v any, fill func(t *table)) error {
	return renderTable(w, o.format, v, fill)
}

// defaultFormat is WFRUN_OUTPUT, else table.
func defaultFormat() string {
	if f := strings.TrimSpace(os.Getenv(envOutput)); f != "" {
		return f
	}
	return formatTable
}

// outputState joins -o and --field into the one format string commands
// read: "field:NAME" when --field is given, else the -o value.
type outputState struct {
	target      *string
	name, field string
}

func (s *outputState) sync() {
	if s.field != "" {
		*s.target = fieldPrefix + s.field
	} else {
		*s.target = s.name
	}
}

type outputValue struct{ s *outputState }

func (v outputValue) String() string { return v.s.name }
func (v outputValue) Type() string   { return "format" }
func (v outputValue) Set(f string) error {
	if err := validFormatName(f); err != nil {
		return err
	}
	v.s.name = f
	v.s.sync()
	return nil
}

type fieldValue struct{ s *outputState }

func (v fieldValue) String() string { return v.s.field }
func (v fieldValue) Type() string   { return "name" }
func (v fieldValue) Set(f string) error {
	if strings.TrimSpace(f) == "" {
		return errors.New("want a field name, e.g. --field workflowId")
	}
	v.s.field = f
	v.s.sync()
	return nil
}

// addOutputFlag registers -o/--output (default WFRUN_OUTPUT, else table)
// and --field on cmd, with shell completion of the formats.
func addOutputFlag(cmd *cobra.Command, format *string) {
	st := &outputState{target: format, name: defaultFormat()}
	st.sync()
	cmd.Flags().VarP(outputValue{st}, "output", "o", "output format: table, json or yaml (env "+envOutput+")")
	cmd.Flags().Lookup("output").DefValue = formatTable
	cmd.Flags().Var(fieldValue{st}, "field", "print only this field of the JSON output, unquoted (a.b for nested fields; one line per item of a list)")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{formatTable, formatJSON, formatYAML}, cobra.ShellCompDirectiveNoFileComp
	})
}

func validFormatName(f string) error {
	switch f {
	case formatTable, formatJSON, formatYAML:
		return nil
	}
	return fmt.Errorf("output format %q: want table, json or yaml", f)
}

// checkFormat validates a format early, as a usage error; it catches a bad
// WFRUN_OUTPUT (a bad -o is already refused while parsing flags).
func checkFormat(format string) error {
	if format == "" || strings.HasPrefix(format, fieldPrefix) {
		return nil
	}
	if err := validFormatName(format); err != nil {
		return usageErr(fmt.Errorf("%w (from -o or %s)", err, envOutput))
	}
	return nil
}

// render is renderTable for table functions written against a plain
// tab-separated writer (see row).
func render(w io.Writer, format string, v any, tableFn func(tw io.Writer) error) error {
	var tableErr error
	var fill func(t *table)
	if tableFn != nil {
		fill = func(t *table) { tableErr = tableFn(t.tw) }
	}
	if err := renderTable(w, format, v, fill); err != nil {
		return err
	}
	return tableErr
}

// renderTable writes v to w in format. JSON and YAML render v itself
// (through its JSON tags, so both show the same field names); "field:NAME"
// prints one field; table calls fill (nil: JSON). Callers put only
// displayable, masked data in v: rendering does no masking.
func renderTable(w io.Writer, format string, v any, fill func(t *table)) error {
	if name, ok := strings.CutPrefix(format, fieldPrefix); ok {
		return renderField(w, name, v)
	}
	switch format {
	case formatJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case formatYAML:
		generic, err := toGeneric(v)
		if err != nil {
			return err
		}
		out, err := yaml.Marshal(jsonNumbersToYAML(generic))
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	case formatTable, "":
		if fill == nil {
			return renderTable(w, formatJSON, v, nil)
		}
		t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
		fill(t)
		return t.tw.Flush()
	}
	return checkFormat(format)
}

// toGeneric round-trips v through JSON, keeping numbers exact.
func toGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return generic, nil
}

// renderField prints field path (dot-separated) of v: a string unquoted,
// anything else as compact JSON; for a list, one line per item.
func renderField(w io.Writer, path string, v any) error {
	generic, err := toGeneric(v)
	if err != nil {
		return err
	}
	items := []any{generic}
	if list, ok := generic.([]any); ok {
		items = list
	}
	for _, it := range items {
		val, err := lookupField(it, path)
		if err != nil {
			return err
		}
		var line string
		switch t := val.(type) {
		case string:
			line = t
		case nil:
			line = ""
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return err
			}
			line = string(b)
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func lookupField(v any, path string) (any, error) {
	cur := v
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, usageErr(fmt.Errorf("--field %q: %q is not an object", path, part))
		}
		next, ok := m[part]
		if !ok {
			names := make([]string, 0, len(m))
			for k := range m {
				names = append(names, k)
			}
			sort.Strings(names)
			return nil, usageErr(fmt.Errorf("--field %q: no field %q (fields here: %s)", path, part, strings.Join(names, ", ")))
		}
		cur = next
	}
	return cur, nil
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

// table is the one table renderer: aligned columns, one line per row,
// every cell on one line and at most maxCell wide.
type table struct{ tw *tabwriter.Writer }

// row writes one row of cells.
func (t *table) row(cells ...string) { row(t.tw, cells...) }

// line writes text outside the columns (elided like a cell).
func (t *table) line(text string) { fmt.Fprintln(t.tw, cell(text)) }

// row writes one tab-separated table row; cells are flattened to one line
// and elided to maxCell, so no value can break the layout or flood the
// terminal.
func row(w io.Writer, cells ...string) {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = cell(c)
	}
	fmt.Fprintln(w, strings.Join(out, "\t"))
}

var flatten = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

// cell flattens s to one line and elides it to maxCell runes, saying how
// much was left out.
func cell(s string) string {
	if len(s) <= maxCell && !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	if utf8.RuneCountInString(s) <= maxCell {
		return flatten.Replace(s)
	}
	keep := maxCell - 20
	i, n := 0, 0
	for i < len(s) && n < keep {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return flatten.Replace(s[:i]) + "… (" + byteSize(len(s)) + ")"
}

// byteSize is n in B, KiB, MiB.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
