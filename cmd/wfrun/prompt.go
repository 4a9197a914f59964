package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
)

// readSecretStdin reads a secret value from standard input. At a terminal
// it prompts on stderr and reads without echo (the value never reaches the
// screen, the shell history or `ps`); from a pipe or file it reads up to
// limit bytes. The second result names the source for error messages.
func readSecretStdin(cmd *cobra.Command, name string, limit int64) ([]byte, string, error) {
	in := cmd.InOrStdin()
	if fd, ok := terminalFd(in); ok {
		fmt.Fprintf(cmd.ErrOrStderr(), "Value for secret %q (input hidden, Enter to finish): ", name)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return nil, "the prompt", fmt.Errorf("read the value at the prompt: %w", err)
		}
		if len(b) == 0 {
			return nil, "the prompt", errors.New("empty value at the prompt: nothing stored")
		}
		return b, "the prompt", nil
	}
	b, err := io.ReadAll(io.LimitReader(in, limit))
	return b, "stdin", err
}

// shortValueWarnings names the parts of a value too short to be masked:
// a run that uses them would print and store them in clear.
func shortValueWarnings(name string, val json.RawMessage) []string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil
	}
	var out []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		short := func(text string) {
			if len(text) > 0 && len(text) < masking.DefaultMinLength {
				where := fmt.Sprintf("secret %q", name)
				if path != "" {
					where += " field " + path
				}
				out = append(out, fmt.Sprintf("warning: %s is %d bytes: values under %d bytes cannot be masked, so a run using it would print and store it in clear; use a longer value",
					where, len(text), masking.DefaultMinLength))
			}
		}
		switch t := v.(type) {
		case string:
			short(t)
		case json.Number:
			// A number is registered, and shown, as its text: 12 is as
			// short as "12".
			short(t.String())
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(joinPath(path, k), t[k])
			}
		case []any:
			for i, e := range t {
				walk(joinPath(path, fmt.Sprint(i)), e)
			}
		}
	}
	walk("", v)
	return out
}

func joinPath(base, k string) string {
	if base == "" {
		return k
	}
	return base + "." + k
}

// warnShortValue prints shortValueWarnings on stderr; bundles are checked
// value by value like any JSON.
func warnShortValue(cmd *cobra.Command, sec *store.Secret) {
	for _, w := range shortValueWarnings(sec.Name, sec.Value) {
		fmt.Fprintln(cmd.ErrOrStderr(), w)
	}
}
