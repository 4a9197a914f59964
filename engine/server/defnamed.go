package server

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
)

// A definition refused before the check for the values of the secrets it
// names (engine.CheckDefinitionValues: it needs a parsed definition) is
// refused with an error that may quote any text of it — an unknown task
// type, an invalid secret name in ${workflow.secrets.NAME}, an invalid
// definition name. When that text is the value of a secret the definition
// itself names (a value pasted where a name goes), the answer must not
// quote it: the error is masked with the values of the secrets the
// definition names, as the registering principal reads them. That tells
// the caller nothing it may not read (a name it may not read is left
// out), and, unlike masking with every value the server's runs read, is
// no oracle.

// definitionSecretRef finds what follows workflow.secrets. (a name, maybe
// with a field path: each dotted prefix is tried) or workflow.secrets['…'].
var definitionSecretRef = regexp.MustCompile(`workflow\.secrets(?:\.([A-Za-z0-9_./:-]+)|\[\s*['"]([^'"]+)['"])`)

// definitionSecretNames are the secret names raw's strings may reference,
// found in its text (raw may not parse as a definition).
func definitionSecretNames(raw []byte) []string {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && len(n) <= 255 && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(k)
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		case string:
			for _, m := range definitionSecretRef.FindAllStringSubmatch(x, -1) {
				if m[2] != "" {
					add(m[2])
					continue
				}
				parts := strings.Split(strings.TrimRight(m[1], "."), ".")
				for i := range parts {
					add(strings.Join(parts[:i+1], "."))
				}
			}
		}
	}
	walk(doc)
	if len(out) > 32 {
		out = out[:32]
	}
	return out
}

// secretValueTexts are the texts a secret's JSON value raw is masked by:
// a string's text; a document's compact form and its string and number
// leaves.
func secretValueTexts(raw []byte) []string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return []string{string(raw)}
	}
	if s, ok := v.(string); ok {
		return []string{s}
	}
	var c bytes.Buffer
	out := []string{string(raw)}
	if json.Compact(&c, raw) == nil {
		out = append(out, c.String())
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		}
	}
	walk(v)
	return out
}

// definitionError is err with its text masked (maskDefinitionError); it
// is still err for errors.Is.
type definitionError struct {
	err  error
	text string
}

func (e *definitionError) Error() string { return e.text }
func (e *definitionError) Unwrap() error { return e.err }

// maskDefinitionError masks the text of err, a refusal of definition raw,
// with the values of the secrets raw names that principal p may read (as
// a run of it reads them: no project, no environment).
func (s *Server) maskDefinitionError(ctx context.Context, p store.Principal, raw []byte, err error) error {
	if err == nil {
		return nil
	}
	names := definitionSecretNames(raw)
	if len(names) == 0 {
		return err
	}
	view := store.NewRunView(s.secrets, p, "", "")
	m := masking.New(masking.WithLogger(nil))
	n := 0
	for _, name := range names {
		if store.ValidateName(name) != nil {
			continue
		}
		v, gerr := view.Secret(ctx, name)
		if gerr != nil {
			continue
		}
		n += m.RegisterAll(secretValueTexts(v)...)
	}
	if n == 0 {
		return err
	}
	text := err.Error()
	if masked := m.MaskString(text); masked != text {
		return &definitionError{err: err, text: masked}
	}
	return err
}
