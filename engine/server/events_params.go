package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// An event handler's action arguments are templates over the message
// payload, resolved as Conductor's ParametersUtils.replace(input, payload)
// does: every `${PATH}` in a string is a JSONPath (Jayway: "a.b" means
// "$.a.b") read from the payload; a string that is exactly one expression
// keeps the value's JSON type; embedded, the value becomes text (null as
// "null", objects and arrays as JSON); a missing path is null; inner
// expressions resolve first; `$${` is a literal `${`. There is no secret
// store behind it: a `${workflow.secrets.…}` path (refused at
// registration) is left as written, never resolved.

// maxParamDepth bounds nested expressions.
const maxParamDepth = 16

// replaceParams resolves every string of v against payload.
func replaceParams(v any, payload any) any {
	switch x := v.(type) {
	case string:
		return replaceString(x, payload, 0)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			out[k] = replaceParams(c, payload)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = replaceParams(c, payload)
		}
		return out
	}
	return v
}

// exprSpan is one `${…}` of a string: [start, end) and the path inside.
type exprSpan struct {
	start, end int
	path       string
}

// findExprs finds the top-level `${…}` of s (braces balanced; `$${` is no
// expression).
func findExprs(s string) []exprSpan {
	var out []exprSpan
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '$' || s[i+1] != '{' {
			continue
		}
		if i > 0 && s[i-1] == '$' {
			continue
		}
		depth, j := 0, i+1
		for ; j < len(s); j++ {
			if s[j] == '{' {
				depth++
			} else if s[j] == '}' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if j >= len(s) {
			break // unterminated: text
		}
		out = append(out, exprSpan{i, j + 1, s[i+2 : j]})
		i = j
	}
	return out
}

func replaceString(s string, payload any, depth int) any {
	spans := findExprs(s)
	if len(spans) == 0 || depth > maxParamDepth {
		return strings.ReplaceAll(s, "$${", "${")
	}
	vals := make([]any, len(spans))
	literal := make([]bool, len(spans))
	for i, sp := range spans {
		path := fmt.Sprint(replaceString(sp.path, payload, depth+1))
		switch {
		case strings.TrimSpace(path) == "":
			vals[i] = ""
		case strings.HasPrefix(strings.TrimSpace(path), "workflow.secrets."):
			vals[i], literal[i] = s[sp.start:sp.end], true
		default:
			vals[i] = readPath(payload, strings.TrimSpace(path))
		}
	}
	if len(spans) == 1 && spans[0].start == 0 && spans[0].end == len(s) && depth == 0 {
		if literal[0] {
			return s
		}
		return vals[0]
	}
	var b strings.Builder
	last := 0
	for i, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(asText(vals[i]))
		last = sp.end
	}
	b.WriteString(s[last:])
	return strings.ReplaceAll(b.String(), "$${", "${")
}

// asText is Java's Objects.toString of a resolved value.
func asText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return x.String()
	case int64, float64, bool:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// readPath reads a Jayway JSONPath from payload: a definite path gives its
// value (null when missing), one with wildcards, filters, unions, slices
// or deep scan the list of what it matches.
func readPath(payload any, path string) any {
	if !strings.HasPrefix(path, "$") && !strings.HasPrefix(path, "@") {
		path = "$." + path
	}
	x, err := jp.ParseString(path)
	if err != nil {
		return nil
	}
	if definite(x) {
		v, ok := x.FirstFound(payload)
		if !ok {
			return nil
		}
		return v
	}
	got := x.Get(payload)
	if got == nil {
		got = []any{}
	}
	return got
}

func definite(x jp.Expr) bool {
	for _, f := range x {
		switch f.(type) {
		case jp.Wildcard, jp.Descent, *jp.Filter, jp.Union, jp.Slice:
			return false
		}
	}
	return true
}

// decodePayload is a message's payload as Conductor's event processor
// reads it: JSON when it parses, else the text. Numbers become int64 when
// they are integers that fit, else float64 (as Jackson's Integer, Long,
// Double), so JSONPath filters compare them; an integer too large for
// either keeps its digits (json.Number).
func decodePayload(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return string(b)
	}
	return javaNumbers(v)
}

func javaNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if strings.ContainsAny(x.String(), ".eE") {
			if f, err := x.Float64(); err == nil {
				return f
			}
		}
		return x
	case map[string]any:
		for k, c := range x {
			x[k] = javaNumbers(c)
		}
	case []any:
		for i, c := range x {
			x[i] = javaNumbers(c)
		}
	}
	return v
}

// expandJSON is Conductor's JsonUtils.expand (expandInlineJSON, and the
// input of a handler's condition): strings of maps and lists that hold a
// JSON object or array become that value, recursively.
func expandJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			out[k] = expandJSON(inlineJSON(c))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = expandJSON(inlineJSON(c))
		}
		return out
	}
	return v
}

func inlineJSON(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t := strings.TrimSpace(s)
	if !(strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) {
		return v
	}
	got := decodePayload([]byte(t))
	if _, isText := got.(string); isText {
		return v
	}
	return got
}
