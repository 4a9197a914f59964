package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"sort"

	"github.com/wfrun/wfrun/store"
)

// MaskDefinitionError masks err, the refusal of definition raw (it did not
// parse or validate), with the values of the secrets raw names, as
// principal p in (project, environment) reads them.
//
// A refusal quotes what it refuses: an unknown task type, a malformed
// reference. Where a user pasted a secret's value by mistake (as the task
// type, as the NAME of ${workflow.secrets.NAME}), the refusal would print
// it. A run's start refuses a definition holding a value of a secret it
// names (CheckDefinitionValues), but that check needs the definition
// parsed; this is its counterpart for a definition that does not parse:
// the names are read from the raw text (rawSecretNames), so a definition
// that names the secret whose value it holds gets a refusal that does not
// print it. A secret the definition does not name cannot be recognised
// (SECURITY.md, "A value typed where wfrun expects a name").
func (e *Engine) MaskDefinitionError(ctx context.Context, raw []byte, err error, p Principal, project, environment string) error {
	if err == nil || e.secrets == nil {
		return err
	}
	names := rawSecretNames(raw)
	if len(names) == 0 {
		return err
	}
	src := e.secrets(p, project, environment)
	if src == nil {
		return err
	}
	sec, serr := e.newRunSecrets("definition-check", src)
	if serr != nil {
		return err
	}
	sec.Reread(ctx, names)
	return sec.Masker().MaskError(err)
}

// secretNameRefs find the name of a secret reference in any spelling a
// template takes: workflow.secrets.NAME (up to the next '.', where a
// field path starts), workflow.secrets['NAME'] and ["NAME"].
var secretNameRefs = regexp.MustCompile(`workflow\.secrets(?:\.([A-Za-z0-9_/:-]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\])`)

// rawSecretNames are the valid secret names that raw's strings reference
// (raw's text, when raw is not JSON), sorted, each once. Names are looked
// for in every string, not only where a template is read: more names read
// means more values masked, never fewer.
func rawSecretNames(raw []byte) []string {
	var texts []string
	d := json.NewDecoder(bytes.NewReader(raw))
	var v any
	if d.Decode(&v) == nil {
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				texts = append(texts, x)
			case []any:
				for _, i := range x {
					walk(i)
				}
			case map[string]any:
				for _, i := range x {
					walk(i)
				}
			}
		}
		walk(v)
	} else {
		texts = []string{string(raw)}
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range texts {
		for _, m := range secretNameRefs.FindAllStringSubmatch(t, -1) {
			for _, n := range m[1:] {
				if n != "" && !seen[n] && store.ValidateName(n) == nil {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
