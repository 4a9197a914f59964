package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/runsecrets"
)

// ErrInvalidDefinition classifies every FieldError a Validator returns.
var ErrInvalidDefinition = errors.New("invalid task definition")

// FieldError is a problem with one field of a task definition node. Field
// is a dotted path from the node, e.g. "inputParameters.expression".
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidDefinition) hold.
func (e *FieldError) Unwrap() error { return ErrInvalidDefinition }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// isTemplate reports whether a literal in a definition is a ${...}
// parameter expression, resolved only at run time and so not checkable at
// load.
func isTemplate(s string) bool { return strings.Contains(s, "${") }

// decodeObject decodes a JSON object (nil or "null" gives an empty map).
func decodeObject(raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("input is not a JSON object: %v", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// rawNull reports whether raw is absent or JSON null.
func rawNull(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw) // no string copy: this runs for every optional field
	return len(b) == 0 || string(b) == "null"
}

// validJSON is json.Valid, faster for the small documents tasks handle. A
// document of at most maxValidDepth bytes cannot nest deeper than
// encoding/json allows, and within that gjson's validator (recursive,
// without a depth limit of its own) accepts exactly what json.Valid accepts
// (FuzzValidJSON checks it); longer documents, possibly nested deep enough
// to matter, get json.Valid.
func validJSON(b []byte) bool {
	if len(b) <= maxValidDepth {
		return gjson.ValidBytes(b)
	}
	return json.Valid(b)
}

// maxValidDepth is encoding/json's nesting limit.
const maxValidDepth = 10000

// flexNumber reads a number given as a JSON number or a numeric string
// (definitions often quote numbers, e.g. "pollingInterval": "60").
func flexNumber(raw json.RawMessage) (float64, bool, error) {
	if rawNull(raw) {
		return 0, false, nil
	}
	if b := bytes.TrimSpace(raw); b[0] == '-' || (b[0] >= '0' && b[0] <= '9') {
		// A plain JSON number (the usual timeout or interval) needs no
		// decoding; a bad or out-of-range one gets encoding/json's error below.
		if f, err := strconv.ParseFloat(string(b), 64); err == nil && validJSON(b) {
			return f, true, nil
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, err
	}
	switch x := v.(type) {
	case float64:
		return x, true, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, false, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%q is not a number", x)
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("want a number, got %s", jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// mask hides registered secret values in text meant for a reason or an
// error output.
func mask(svc *Services, s string) string {
	if svc == nil || svc.Masker == nil || s == "" {
		return s
	}
	return string(svc.Masker.Mask([]byte(s)))
}

// svcMasker is svc's masker for the text path (nil when there is none).
func svcMasker(svc *Services) runsecrets.Masker {
	if svc == nil || svc.Masker == nil {
		return nil
	}
	return svc.Masker
}

// maskCut masks the whole of s, then cuts it to at most max bytes: the
// order every quoted text (evaluator errors, stderr) needs.
func maskCut(svc *Services, s string, max int) string {
	if m := svcMasker(svc); m != nil {
		s = string(m.Mask([]byte(s)))
	}
	if max > 0 && len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}

// maskCode is maskCut for the errors of user code (scripts, expressions, jq
// queries), which may quote a piece of a value the code cut into tokens
// (runsecrets.CodeExcerpt).
func maskCode(svc *Services, s string, max int) string {
	return runsecrets.CodeExcerpt(svcMasker(svc), s, max)
}

// failure builds a failed Result whose output carries the reason under
// "error", as Conductor's INLINE and JSON_JQ_TRANSFORM do.
func failure(status Status, reason string) Result {
	out, _ := json.Marshal(map[string]string{"error": reason})
	return Result{Status: status, Reason: reason, Output: out}
}

// defNode is the part of a WorkflowTask node the validators read.
type defNode struct {
	InputParameters json.RawMessage `json:"inputParameters"`
}

// defInputs decodes a definition node's inputParameters, reporting problems
// as FieldErrors.
func defInputs(def json.RawMessage) (map[string]json.RawMessage, []error) {
	var n defNode
	if err := json.Unmarshal(def, &n); err != nil {
		return nil, []error{fieldErr("(task)", "not a JSON object: %v", err)}
	}
	if rawNull(n.InputParameters) {
		return map[string]json.RawMessage{}, nil
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(n.InputParameters, &in); err != nil {
		return nil, []error{fieldErr("inputParameters", "must be a JSON object")}
	}
	return in, nil
}

// literalString returns the field's string value; ok is false when the
// field is absent or null, isStr false when it is another JSON kind.
func literalString(raw json.RawMessage) (s string, ok, isStr bool) {
	if rawNull(raw) {
		return "", false, false
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, false
	}
	return s, true, true
}

// maxQuotedError bounds an evaluator or jq error quoted into a reason.
const maxQuotedError = 1 << 10
