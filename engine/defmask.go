package engine

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
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

// rawSecretNames are the secret names that raw's strings reference, as
// the template compiler reads them (a string that does not compile on its
// own is skipped), sorted, each once. Names are looked for in every
// string, not only where a template is read: more names read means more
// values masked, never fewer. Nothing when raw is not JSON.
func rawSecretNames(raw []byte) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if !strings.Contains(x, "workflow.secrets") {
				return
			}
			doc, _ := json.Marshal(x)
			tpl, err := interpolate.Compile(doc)
			if err != nil {
				return
			}
			for _, n := range tpl.SecretNames() {
				if !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
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
	sort.Strings(out)
	return out
}
