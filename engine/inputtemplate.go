package engine

import (
	"bytes"
	"encoding/json"

	"github.com/wfrun/wfrun/interpolate"
)

// templateCache holds the compiled inputParameters+inputTemplate of tasks
// whose definition has an inputTemplate, per task and template text.
type templateKey struct {
	wt   *WorkflowTask
	tmpl string
}

type templateEntry struct {
	tmpl     *interpolate.Template
	defaults map[string]json.RawMessage
}

// inputTemplate returns the template a task's input is resolved from (p:
// its settings), and the definition's inputTemplate defaults. As Conductor's getTaskInputV2
// does, the keys of the task definition's inputTemplate that the task's
// inputParameters lack are added (and resolved like the others), and a key
// that resolves to null takes the template's value (templateDefaults).
func (e *Engine) inputTemplate(wt *WorkflowTask, p taskPolicy) (*interpolate.Template, map[string]json.RawMessage) {
	if len(p.inputTemplate) == 0 {
		return wt.input, nil
	}
	key := templateKey{wt, string(p.inputTemplate)}
	if v, ok := e.templates.Load(key); ok {
		ent := v.(*templateEntry)
		return ent.tmpl, ent.defaults
	}
	var defaults map[string]json.RawMessage
	if json.Unmarshal(p.inputTemplate, &defaults) != nil || len(defaults) == 0 {
		return wt.input, nil
	}
	merged := map[string]json.RawMessage{}
	if len(wt.InputParameters) > 0 {
		_ = json.Unmarshal(wt.InputParameters, &merged)
	}
	for k, v := range defaults {
		if _, ok := merged[k]; !ok {
			merged[k] = v
		}
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return wt.input, nil
	}
	tmpl, err := interpolate.Compile(b, interpolate.WithLocation(wt.loc+"/inputParameters"))
	if err != nil {
		// A template that does not compile is used as plain data.
		return wt.input, defaults
	}
	v, _ := e.templates.LoadOrStore(key, &templateEntry{tmpl, defaults})
	ent := v.(*templateEntry)
	return ent.tmpl, ent.defaults
}

// templateDefaults replaces the top-level members of a resolved input that
// are null by the inputTemplate's value for them.
func templateDefaults(input []byte, defaults map[string]json.RawMessage) []byte {
	if len(defaults) == 0 || len(input) == 0 || !bytes.Contains(input, []byte("null")) {
		return input
	}
	m := map[string]json.RawMessage{}
	if json.Unmarshal(input, &m) != nil {
		return input
	}
	changed := false
	for k, v := range m {
		if d, ok := defaults[k]; ok && string(bytes.TrimSpace(v)) == "null" {
			m[k], changed = d, true
		}
	}
	if !changed {
		return input
	}
	b, err := json.Marshal(m)
	if err != nil {
		return input
	}
	return b
}

// withInputTemplate adds the members of a workflow definition's
// inputTemplate that the run input lacks (Conductor's getWorkflowInput).
func withInputTemplate(input []byte, tmpl json.RawMessage) []byte {
	t := bytes.TrimSpace(tmpl)
	if len(t) < 2 || t[0] != '{' || string(t) == "{}" {
		return input
	}
	var defaults, in map[string]json.RawMessage
	if json.Unmarshal(t, &defaults) != nil || json.Unmarshal(input, &in) != nil {
		return input
	}
	changed := false
	for k, v := range defaults {
		if _, ok := in[k]; !ok {
			in[k], changed = v, true
		}
	}
	if !changed {
		return input
	}
	b, err := json.Marshal(in)
	if err != nil {
		return input
	}
	return b
}
