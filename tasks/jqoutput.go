package tasks

import (
	"encoding/json"
	"math"
	"strings"
)

// Conductor's ObjectMapper writes a double that is not finite as a
// string (Jackson's JsonWriteFeature.WRITE_NAN_AS_STRINGS, on by default
// and left on by conductor-oss's ObjectMapperProvider): the task output of
// "infinite" is {"result": "Infinity", "resultList": ["Infinity"]}, and
// -infinite and nan give "-Infinity" and "NaN". JSON has no such numbers;
// jacksonDoubles writes them as Conductor does.

// jacksonDoubles returns v with every float that is not finite replaced by
// Jackson's text for it. v is returned as it is when it holds none.
func jacksonDoubles(v any) any {
	if !hasNonFinite(v) {
		return v
	}
	switch v := v.(type) {
	case float64:
		switch {
		case math.IsNaN(v):
			return "NaN"
		case v > 0:
			return "Infinity"
		}
		return "-Infinity"
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jacksonDoubles(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = jacksonDoubles(x)
		}
		return out
	}
	return v
}

func hasNonFinite(v any) bool {
	switch v := v.(type) {
	case float64:
		return math.IsInf(v, 0) || math.IsNaN(v)
	case []any:
		for _, x := range v {
			if hasNonFinite(x) {
				return true
			}
		}
	case map[string]any:
		for _, x := range v {
			if hasNonFinite(x) {
				return true
			}
		}
	}
	return false
}

// jacksonParsedNumbers returns v, a value gojq's fromjson read, with each
// number written with a fraction or an exponent as Jackson reads it: a
// double (1e400 is infinite; gojq keeps such a number's text when a
// float64 cannot hold it exactly). Integers stay exact, as Jackson's
// int, long and BigInteger nodes keep them.
func jacksonParsedNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			f, _ := x.Float64() // ±Inf on overflow, as Java's parseDouble
			return f
		}
	case []any:
		for i, e := range x {
			x[i] = jacksonParsedNumbers(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = jacksonParsedNumbers(e)
		}
	}
	return v
}
