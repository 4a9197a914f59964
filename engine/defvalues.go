package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/tasks"
)

// ErrDefinitionHoldsSecret is matched (errors.Is) by the refusal of a
// definition that holds a secret's value in clear (definitionValueError).
var ErrDefinitionHoldsSecret = errors.New("workflow definition holds a secret's value")

// definitionValueError: a definition holds, at pointer at, the value of a
// secret the run registers. A run stores its definition as it is, keyed
// by hash and never masked again, and a masked copy would run "***" after
// a resume: such a definition is refused before anything is stored. The
// error names the secret (never its value), or says the value came from
// the parent run when no name the definition reads gives it.
type definitionValueError struct {
	at, name string
	// field is the path in a JSON secret of the field whose value the
	// definition holds (jsonSecretField), "" for the value whole;
	// inText: the secret's value is a JSON document inside a string,
	// which no field path reads.
	field  string
	inText bool
}

func (e *definitionValueError) Error() string {
	at := e.at
	if at == "" {
		at = "(the whole document)"
	}
	switch {
	case e.name == "":
		return fmt.Sprintf("workflowDef %s holds the value of a secret its parent run resolved: pass it as an input (it reaches the child sealed), never in the definition", at)
	case e.field != "" && e.inText:
		return fmt.Sprintf("workflowDef %s holds the value of field %s of the JSON document in secret %s: use ${workflow.secrets.%s}", at, e.field, e.name, e.name)
	case e.field != "":
		read := e.name + "." + e.field
		if e.field[0] == '[' {
			read = e.name + e.field
		}
		return fmt.Sprintf("workflowDef %s holds the value of field %s of secret %s: use ${workflow.secrets.%s}", at, e.field, e.name, read)
	}
	return fmt.Sprintf("workflowDef %s holds the value of secret %s: use ${workflow.secrets.%s}", at, e.name, e.name)
}

// Is makes the refusal an invalid definition too: `wfrun serve` answers it
// 400, as a definition it cannot take.
func (e *definitionValueError) Is(target error) bool {
	return target == ErrDefinitionHoldsSecret || target == ErrInvalidDefinition
}

// checkDefinitionValues refuses r's definition when it holds in clear a
// value the run's masker registers (definitionValues): what is registered
// when the run starts (a parent's values, for a child run) and the values
// of every secret the definition names, read now as a resume reads them
// (runsecrets.Reread) and so registered with the run's masker. r.mu is
// not held: the run is not shared yet.
func (r *runState) checkDefinitionValues(ctx context.Context) error {
	names := checkedSecretNames(r.def)
	r.sec.Reread(r.sec.ForTask(ctx, ""), names)
	if r.sec.Generation() == 0 {
		return nil
	}
	return definitionValues(ctx, r.def, r.sec, names, func() (*runsecrets.Run, error) {
		return r.e.newRunSecrets(r.id, r.secretSource())
	})
}

// CheckDefinitionValues refuses def when it holds in clear the value of
// a secret it names, as principal p in (project, environment) reads it:
// the check a run makes at its start (checkDefinitionValues), for a
// definition registered to run later (`wfrun serve`'s metadata API). The
// error names the secret and the JSON pointer, never the value. Names p
// may not read are left out, as a resumed run leaves them.
func (e *Engine) CheckDefinitionValues(ctx context.Context, def *Definition, p Principal, project, environment string) error {
	names := checkedSecretNames(def)
	if len(names) == 0 || e.secrets == nil {
		return nil
	}
	src := e.secrets(p, project, environment)
	if src == nil {
		return nil
	}
	fresh := func() (*runsecrets.Run, error) { return e.newRunSecrets("definition-check", src) }
	sec, err := fresh()
	if err != nil {
		return err
	}
	sec.Reread(ctx, names)
	if sec.Generation() == 0 {
		return nil
	}
	return definitionValues(ctx, def, sec, names, fresh)
}

// definitionValues reports where def holds a value sec's masker
// registers (the one recogniser of values: definitionLeak) and, reading
// each name again into a fresh boundary, the secret whose value it is.
func definitionValues(ctx context.Context, def *Definition, sec *runsecrets.Run, names []string, fresh func() (*runsecrets.Run, error)) error {
	at, ok := definitionLeak(def, sec)
	if !ok {
		return nil
	}
	for _, n := range names {
		one, err := fresh()
		if err != nil {
			return err
		}
		raw, err := one.Secret(sec.ForTask(ctx, ""), n)
		if err != nil {
			continue
		}
		if a, ok := definitionLeak(def, one); ok {
			e := &definitionValueError{at: sec.Text(a), name: n}
			field, inText, err := jsonSecretField(def, raw, one, fresh)
			if err != nil {
				return err
			}
			if field != "" {
				e.field, e.inText = sec.Text(field), inText
			}
			return e
		}
	}
	return &definitionValueError{at: sec.Text(at)}
}

// jsonSecretField is the path (as ${workflow.secrets.NAME.path} reads
// it) of the first field of JSON secret value raw, in key order, whose
// value def holds: the masker registers each string and number field of
// a JSON secret (4 bytes and more) as a value of its own, which a definition may
// hold without meaning the secret (a user name "deploy"); read is the
// boundary that read raw, whose masker says which fields it registered.
// inText: raw is a JSON string holding the document. "" when raw is no
// JSON document or no single field is held (the document whole, say).
func jsonSecretField(def *Definition, raw []byte, read *runsecrets.Run, fresh func() (*runsecrets.Run, error)) (field string, inText bool, err error) {
	// Numbers as their text: the masker registers a number field as it
	// is written (12345678901234567890, not its nearest double).
	decode := func(b []byte, v *any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(v); err != nil {
			return err
		}
		if _, err := d.Token(); err != io.EOF {
			return fmt.Errorf("more than one JSON value")
		}
		return nil
	}
	var v any
	if decode(raw, &v) != nil {
		return "", false, nil
	}
	if s, ok := v.(string); ok {
		t := strings.TrimSpace(s)
		if t == "" || (t[0] != '{' && t[0] != '[') || decode([]byte(t), &v) != nil {
			return "", false, nil
		}
		inText = true
	}
	var walk func(v any, path string) (string, error)
	walk = func(v any, path string) (string, error) {
		if n, ok := v.(json.Number); ok {
			v = string(n) // registered as a string field is
		}
		switch x := v.(type) {
		case string:
			if path == "" || read.Text(x) == x {
				return "", nil // the value whole, or a field too short to be masked
			}
			one, err := fresh()
			if err != nil {
				return "", err
			}
			one.Register(x)
			if _, ok := definitionLeak(def, one); ok {
				return path, nil
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if p, err := walk(x[k], path+fieldStep(path, k)); p != "" || err != nil {
					return p, err
				}
			}
		case []any:
			for i, e := range x {
				if p, err := walk(e, path+"["+itoa(i)+"]"); p != "" || err != nil {
					return p, err
				}
			}
		}
		return "", nil
	}
	field, err = walk(v, "")
	return field, inText, err
}

// fieldStep is key as a step of a field path after path: .key, or
// ['key'] when key is not a plain name.
func fieldStep(path, key string) string {
	plain := key != ""
	for _, c := range key {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return "['" + strings.ReplaceAll(key, "'", "\\'") + "']"
	case path == "":
		return key
	}
	return "." + key
}

// definitionLeak reports the JSON pointer of the first member of def's
// document that sec's masker changes. A definition built from run data
// keeps values under `_secrets` (sealed when stored: protectDefinition),
// so only what Protect masks outside them counts; any other definition
// is stored as it is, `_secrets` members included.
func definitionLeak(def *Definition, sec *runsecrets.Run) (string, bool) {
	var masked []byte
	var err error
	if def.fromRunData {
		masked, _, err = sec.Protect(def.raw, definitionPointer)
	} else {
		masked, err = sec.Masker().MaskJSON(def.raw)
	}
	if err != nil {
		return "", true // not JSON the masker can read: refused, at the document
	}
	if string(masked) == string(def.raw) {
		return "", false
	}
	var a, b any
	if json.Unmarshal(def.raw, &a) != nil || json.Unmarshal(masked, &b) != nil {
		return "", true
	}
	return firstDifference(a, b, "")
}

// firstDifference is the JSON pointer of the first place where a and b
// (decoded JSON) differ: array items in order, object members by name.
// A member whose name differs is reported at its object.
func firstDifference(a, b any, at string) (string, bool) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return at, true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, ok := y[k]
			if !ok {
				return at, true
			}
			if p, ok := firstDifference(x[k], v, at+"/"+pointerEscape(k)); ok {
				return p, true
			}
		}
		return "", false
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return at, true
		}
		for i := range x {
			if p, ok := firstDifference(x[i], y[i], at+"/"+itoa(i)); ok {
				return p, true
			}
		}
		return "", false
	}
	if s, ok := a.(string); ok && oneExpression(s) && !(strings.HasPrefix(s, "${workflow.secrets") && !reflect.DeepEqual(a, b)) {
		// An expression is no value, though it may be registered as one:
		// a parent's SUB_WORKFLOW record holds its inline child definition
		// in its input, whose `_secrets` leaves (expressions there) its
		// masker registers. But a secret reference whose text holds a
		// value is one: a value typed as the name,
		// ${workflow.secrets.<value>}, would be stored with the
		// definition and audited as the name read.
		return "", false
	}
	if !reflect.DeepEqual(a, b) {
		return at, true
	}
	return "", false
}

// oneExpression reports text that is one ${...} expression and nothing
// else.
func oneExpression(s string) bool {
	return len(s) > 3 && strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") && !strings.Contains(s[2:], "${")
}

// checkedSecretNames are the names whose values a definition is checked
// for (definitionSecrets, sorted) but EXEC bundles: the masker registers a
// bundle's values and its files' contents, and each line of a multi-line
// content (a script's `set -e`, a config file's `[default]`) as a value of
// its own; a definition holding such a line beside the EXEC task that
// uses the bundle (its command, another script) holds no secret, and
// would be refused. A bundle's value pasted into a definition is masked
// wherever the run shows it, as any registered value is.
func checkedSecretNames(d *Definition) []string {
	bundles := map[string]bool{}
	var walk func(d *Definition)
	walk = func(d *Definition) {
		walkTasks(d.Tasks, func(t *WorkflowTask) {
			switch t.Type {
			case tasks.TypeExec:
				for _, n := range t.staticSecrets {
					bundles[n] = true
				}
			case TypeDynamic:
				// It may become an EXEC task: its bundles are bundles.
				var in map[string]json.RawMessage
				var list []json.RawMessage
				if json.Unmarshal(t.InputParameters, &in) == nil {
					_ = json.Unmarshal(in["bundles"], &list)
				}
				for _, b := range list {
					var n string
					if json.Unmarshal(b, &n) == nil {
						bundles[n] = true
					}
				}
			}
			if t.subDef != nil {
				walk(t.subDef)
			}
		})
	}
	walk(d)
	var out []string
	for n := range definitionSecrets(d) {
		if !bundles[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// redactedAt is the JSON pointer of the first string of doc, outside
// `_secrets`, that holds the masker's "***": where a definition built
// from run data took a value the run had masked (a task's output holds
// a registered value masked, its `_secrets` in clear).
func redactedAt(doc []byte) (string, bool) {
	if !strings.Contains(string(doc), masking.Redacted) {
		return "", false
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return "", false
	}
	var walk func(v any, at string) (string, bool)
	walk = func(v any, at string) (string, bool) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if runsecrets.IsSecretsKey(k) {
					continue
				}
				if p, ok := walk(x[k], at+"/"+pointerEscape(k)); ok {
					return p, true
				}
			}
		case []any:
			for i, c := range x {
				if p, ok := walk(c, at+"/"+itoa(i)); ok {
					return p, true
				}
			}
		case string:
			return at, strings.Contains(x, masking.Redacted)
		}
		return "", false
	}
	return walk(v, "")
}
