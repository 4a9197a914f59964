package tasks

import (
	"slices"
	"strings"

	"github.com/wfrun/wfrun/runsecrets"
)

// The errors of builtins that reject their input or argument, worded as
// jackson-jq 0.0.13's functions word them (under
// jackson-jq/src/main/java/net/thisptr/jackson/jq/internal/ there:
// misc/Preconditions.java's "NAME is not applicable to TYPE; expected one
// of [TYPES]" with Jackson's upper-case node types, and the functions'
// own texts in functions/LengthFunction.java, ToNumberFunction.java,
// Utf8ByteLengthFunction.java, ContainsFunction.java, HasFunction.java,
// SplitFunction.java, LTrimStrFunction.java, RTrimStrFunction.java,
// StartsWithFunction.java, EndsWithFunction.java, ImplodeFunction.java,
// RangeFunction.java; jq.json defines ascii_downcase and ascii_upcase
// with explode, unique with group).

// jqInputTypes are the builtins that check their input's type first: the
// name jackson-jq's message gives and the types it accepts.
var jqInputTypes = map[string]struct {
	name  string
	types []string
}{
	"keys": {"keys", []string{"OBJECT", "ARRAY"}}, "to_entries": {"to_entries", []string{"OBJECT", "ARRAY"}},
	"min": {"min", []string{"ARRAY"}}, "max": {"max", []string{"ARRAY"}}, "sort": {"sort", []string{"ARRAY"}},
	"reverse": {"reverse", []string{"ARRAY"}}, "unique": {"group", []string{"ARRAY"}},
	"explode": {"explode", []string{"STRING"}}, "ascii_downcase": {"explode", []string{"STRING"}},
	"ascii_upcase": {"explode", []string{"STRING"}}, "fromjson": {"fromjson", []string{"STRING"}},
	"implode": {"implode", []string{"ARRAY"}}, "indices": {"indices", []string{"STRING", "ARRAY"}},
	"split": {"split", []string{"STRING"}}, "ltrimstr": {"ltrimstr", []string{"STRING"}},
	"rtrimstr": {"rtrimstr", []string{"STRING"}}, "startswith": {"startswith", []string{"STRING"}},
	"endswith": {"endswith", []string{"STRING"}},
	"floor":    {"mathfunc", []string{"NUMBER"}}, "sqrt": {"mathfunc", []string{"NUMBER"}},
	"sin": {"mathfunc", []string{"NUMBER"}}, "cos": {"mathfunc", []string{"NUMBER"}},
	"atan": {"mathfunc", []string{"NUMBER"}}, "log2": {"mathfunc", []string{"NUMBER"}},
}

// jqNodeType is Jackson's JsonNodeType name of v.
func jqNodeType(v any) string { return strings.ToUpper(jqTypeOf(v)) }

// jacksonFuncReason words gojq's type error of builtin name, applied to
// input v with argument w (hasArg), as jackson-jq does; ok is false for a
// builtin it has no wording for.
func jacksonFuncReason(m runsecrets.Masker, name string, v, w any, hasArg bool) (string, bool) {
	if c, ok := jqInputTypes[name]; ok && !slices.Contains(c.types, jqNodeType(v)) {
		return c.name + " is not applicable to " + jqNodeType(v) + "; expected one of [" + strings.Join(c.types, ", ") + "]", true
	}
	switch name {
	case "length":
		return jqTypeOf(v) + " has no length", true
	case "tonumber":
		return jqTypeOf(v) + " cannot be parsed as a number", true
	case "utf8bytelength":
		return jqTypeOf(v) + " (" + jacksonFullText(m, v) + ") only strings have UTF-8 byte length", true
	case "range":
		return "arguments of range() must be NUMBER", true
	case "implode":
		if a, ok := v.([]any); ok {
			for _, x := range a {
				if jqTypeOf(x) != "number" {
					return "implode is not applicable to input which contains " + jqNodeType(x) + "; expected one of [NUMBER]", true
				}
			}
		}
	}
	if !hasArg {
		return "", false
	}
	switch name {
	case "has":
		switch v.(type) {
		case map[string]any:
			return "argument 1 of has() must be string for object input", true
		case []any:
			return "argument 1 of has() must be int for array input", true
		}
		return "has() is not applicable to " + jqNodeType(v), true
	case "contains":
		return jqTypeOf(v) + " (" + jacksonFullText(m, v) + ") and " + jqTypeOf(w) + " (" + jacksonFullText(m, w) +
			") cannot have their containment checked", true
	case "split":
		return "1st argument of split() must evaluate to string, not " + jqNodeType(w), true
	case "ltrimstr", "rtrimstr":
		return "1st argument to " + name + "() must be string, got " + jqNodeType(w), true
	case "startswith", "endswith":
		return "1st argument of " + name + "() must evaluate to string", true
	}
	return "", false
}

// jacksonToNumberReason is tonumber's failure on a string that is no
// number: Java's Double.parseDouble message (NumberFormatException).
func jacksonToNumberReason(m runsecrets.Masker, s string) string {
	if strings.TrimSpace(s) == "" {
		return "empty String"
	}
	return `For input string: "` + maskPieces(m, s) + `"`
}

// jacksonFullText is v's JSON as Jackson writes it, whole (the messages
// that format a node with %s do not cut it), masked.
func jacksonFullText(m runsecrets.Masker, v any) string {
	var b strings.Builder
	writeJackson(&b, maskLeaves(m, v))
	return runsecrets.CodeExcerpt(m, b.String(), 0)
}
