package engine

import (
	"encoding/json"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// secretRules checks, at load, the two rules that keep run input from
// steering secrets (SPEC §4):
//
//   - the secret names a task reads or writes by name — HTTP auth.secret,
//     EXEC bundles, UPDATE_SECRET _secrets.secretKey — are literal names,
//     like ${workflow.secrets.NAME}: run input never chooses which secret is
//     read or overwritten. They are recorded in t.staticSecrets;
//   - a secret is never program text: a secret reference in an INLINE or
//     LAMBDA script, a SWITCH/DECISION expression, a DO_WHILE loopCondition
//     or a jq queryExpression is refused (pass the secret as an input and
//     read it there); evaluator errors can quote their source.
func (v *validator) secretRules(t *WorkflowTask) {
	in := map[string]json.RawMessage{}
	if len(t.InputParameters) > 0 && t.InputParameters[0] == '{' {
		_ = json.Unmarshal(t.InputParameters, &in)
	}
	loc := t.loc + "/inputParameters"
	static := func(where string, raw json.RawMessage) {
		var name string
		if json.Unmarshal(raw, &name) != nil {
			v.add(where, "must be a literal secret name (a string)")
			return
		}
		if isExpression(name) {
			v.add(where, "must be a literal secret name, not an expression: run input must never choose which secret is used")
			return
		}
		if name != "" {
			t.staticSecrets = append(t.staticSecrets, name)
		}
	}
	switch t.Type {
	case tasks.TypeHTTP, tasks.TypeHTTPPoll:
		v.httpAuthName(in, loc, static, true)
	case tasks.TypeExec:
		v.bundleNames(in, loc, static, true)
	case tasks.TypeUpdateSecret:
		v.secretKeyName(in, loc, static, true)
	case TypeDynamic:
		// Its inputParameters are the input of the task it becomes
		// (DynamicTaskMapper), an HTTP, EXEC or UPDATE_SECRET task among
		// them: the names there are literal and recorded now, as theirs.
		// A member of another shape (auth or bundles from an expression)
		// may be a worker's input; it is refused at run time if the task
		// becomes one that reads it by name (dynamicSecretRules).
		v.httpAuthName(in, loc, static, false)
		v.bundleNames(in, loc, static, false)
		v.secretKeyName(in, loc, static, false)
	case tasks.TypeInline, TypeLambda:
		for _, k := range []string{"expression", "scriptExpression"} {
			if raw, ok := in[k]; ok {
				v.noSecretInSource(loc+"/"+k, raw)
			}
		}
	case tasks.TypeJSONJQTransform:
		if raw, ok := in["queryExpression"]; ok {
			v.noSecretInSource(loc+"/queryExpression", raw)
		}
	case TypeSwitch, TypeDecision:
		v.noSecretInText(t.loc+"/expression", t.Expression)
		v.noSecretInText(t.loc+"/caseExpression", t.CaseExpression)
	case TypeDoWhile:
		v.noSecretInText(t.loc+"/loopCondition", t.LoopCondition)
	}
}

// httpAuthName checks the auth.secret of an HTTP task's input (flat, or
// under http_request). strict refuses an auth or http_request that is not
// a JSON object.
func (v *validator) httpAuthName(in map[string]json.RawMessage, loc string, static func(string, json.RawMessage), strict bool) {
	auth, where := in["auth"], loc+"/auth"
	if req, ok := in["http_request"]; ok {
		var nested map[string]json.RawMessage
		if json.Unmarshal(req, &nested) == nil {
			// A null auth there is none: the task then uses the
			// top-level auth (tasks.parseHTTPInput), checked below.
			if a, ok := nested["auth"]; ok && !rawIsNull(a) {
				auth, where = a, loc+"/http_request/auth"
			}
		} else if strict {
			var s string
			if json.Unmarshal(req, &s) == nil && isExpression(s) {
				v.add(loc+"/http_request", "must be a JSON object: with auth, the request cannot come whole from an expression")
			}
		}
	}
	if len(auth) == 0 || string(auth) == "null" {
		return
	}
	var a map[string]json.RawMessage
	if json.Unmarshal(auth, &a) != nil {
		if strict {
			v.add(where, "must be a JSON object {type, secret[, region, service]}, not an expression")
		}
		return
	}
	if s, ok := a["secret"]; ok {
		static(where+"/secret", s)
	}
}

// bundleNames checks an EXEC task's bundles. strict refuses bundles that
// are not a list.
func (v *validator) bundleNames(in map[string]json.RawMessage, loc string, static func(string, json.RawMessage), strict bool) {
	raw, ok := in["bundles"]
	if !ok || string(raw) == "null" {
		return
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		if strict {
			v.add(loc+"/bundles", "must be a list of literal secret names")
		}
		return
	}
	for i, b := range list {
		static(loc+"/bundles/"+itoa(i), b)
	}
}

// secretKeyName checks an UPDATE_SECRET task's _secrets.secretKey. strict
// refuses a _secrets that is not a JSON object.
func (v *validator) secretKeyName(in map[string]json.RawMessage, loc string, static func(string, json.RawMessage), strict bool) {
	raw, ok := in["_secrets"]
	if !ok {
		return
	}
	var sec map[string]json.RawMessage
	if json.Unmarshal(raw, &sec) != nil {
		if strict {
			v.add(loc+"/_secrets", "must be a JSON object {secretKey, secretValue}")
		}
		return
	}
	if k, ok := sec["secretKey"]; ok {
		static(loc+"/_secrets/secretKey", k)
	}
}

// isExpression reports whether s holds a ${...} or $<...> expression.
func isExpression(s string) bool {
	return strings.Contains(s, "${") || strings.Contains(s, "$<")
}

const secretSourceMsg = "a secret reference must not be part of program text (its value would become code and evaluator errors quote code): pass it as an input parameter and read it there"

// noSecretInSource refuses a template value (an input parameter) whose
// expressions read a secret.
func (v *validator) noSecretInSource(loc string, raw json.RawMessage) {
	tpl, err := interpolate.Compile(raw)
	if err != nil {
		return // reported where the input is compiled
	}
	if tpl.HasSecrets() {
		v.add(loc, secretSourceMsg)
	}
}

// noSecretInText refuses a secret reference in evaluator source that is not
// a template (SWITCH expression, DO_WHILE loopCondition): it would not be
// resolved, but it says the author expected the value to become code.
func (v *validator) noSecretInText(loc, src string) {
	if src == "" || !isExpression(src) {
		return
	}
	q, _ := json.Marshal(src)
	if tpl, err := interpolate.Compile(q); err == nil {
		if tpl.HasSecrets() {
			v.add(loc, secretSourceMsg)
		}
		return
	}
	if strings.Contains(src, "workflow.secrets") {
		v.add(loc, secretSourceMsg)
	}
}
