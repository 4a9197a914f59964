package tasks

import (
	"encoding/json"
	"math"
	"math/big"
	"testing"
)

// The reasons a failed JSON_JQ_TRANSFORM reports, as Conductor's jq
// (jackson-jq 0.0.13) words them. Each expected string was read from that
// version's sources (github.com/eiiches/jackson-jq, tag 0.0.13, under
// jackson-jq/src/main/java/net/thisptr/jackson/jq/), named per group.
func TestJQJacksonRuntimeReasons(t *testing.T) {
	r := NewDefaultRegistry()
	cases := []struct {
		name  string
		in    map[string]any
		query string
		want  string
	}{
		// internal/tree/fieldaccess/resolved/ResolvedStringFieldAccess.java:
		// the key inside quotes, as it is.
		{"string key on number", map[string]any{"a": 5}, ".a.b", `Cannot index number with string "b"`},
		{"string key on boolean", map[string]any{"a": true}, ".a.b", `Cannot index boolean with string "b"`},
		{"string key on array", map[string]any{"a": []any{1}}, `.a["x"]`, `Cannot index array with string "x"`},
		{"string key on string", map[string]any{"a": "s"}, `.a."x y"`, `Cannot index string with string "x y"`},
		{"key with a quote and a newline", map[string]any{"a": 1}, `.a["k\"\nq"]`, "Cannot index number with string \"k\"\nq\""},
		{"key not ASCII", map[string]any{"a": 1}, `.a["ключ"]`, `Cannot index number with string "ключ"`},
		{"key from data on array", map[string]any{"a": []any{1}, "k": "x"}, `.a[.k]`, `Cannot index array with string "x"`},
		{"key from a variable", map[string]any{"a": false, "k": "name"}, `.k as $k | .a | .[$k]`, `Cannot index boolean with string "name"`},
		{"key from an interpolation", map[string]any{"a": 2, "k": "z"}, `.a."p\(.k)"`, `Cannot index number with string "pz"`},
		{"each element", map[string]any{"l": []any{map[string]any{"x": 1}, 3}}, `[.l[] | .x]`, `Cannot index number with string "x"`},
		{"left side fails first", map[string]any{"a": "s", "b": 1}, ".a.x + .b.y", `Cannot index string with string "x"`},
		{"left unknown function first", map[string]any{}, "n + a", "Function n/0 does not exist"},
		{"unknown function in a branch taken", map[string]any{"b": true}, "if .b then nosuch(1) else 2 end", "Function nosuch/1 does not exist"},
		{"unknown variable", map[string]any{}, "1 | $nope", "Undefined variable: $nope"},
		// tree/binaryop/assignment/Assignment.java, UpdateAssignment.java,
		// ComplexAssignment.java.
		{"assign to .", map[string]any{"a": 1}, ". |= . + 1", "left hand side must be FieldAccess"},
		{"assign to a call", map[string]any{"a": []any{1}}, "first(.a) = 1", "left hand side must be FieldAccess"},
		{"assign to a try", map[string]any{"a": 1}, "(.a)? = 1", "left hand side must be FieldAccess"},
		{"assign from a variable", map[string]any{"a": 1}, "{} as $x | $x.a = 1", "cannot update value"},
		// ResolvedIndexFieldAccess.java: no index, no preview.
		{"number key on object", map[string]any{"a": map[string]any{"x": 1}}, ".a[0]", "Cannot index object with number"},
		{"number key on boolean", map[string]any{"a": true}, ".a[0]", "Cannot index boolean with number"},
		{"number key from data", map[string]any{"a": map[string]any{}, "k": 1}, ".a[.k]", "Cannot index object with number"},
		// BracketFieldAccess.java: a key neither a whole number nor a
		// string names the type of the term's input, not the value indexed.
		{"boolean key", map[string]any{"a": map[string]any{}}, ".a as $v | 7 | $v[true]", "Cannot index number with boolean"},
		{"null key", map[string]any{"a": []any{1}}, ".a[null]", "Cannot index object with null"},
		{"fraction key", map[string]any{"a": map[string]any{}}, ".a[1.5]", "Cannot index object with number"},
		// ResolvedAllFieldAccess.java.
		{"iterate number", map[string]any{"a": 5}, ".a[]", "Cannot iterate over number"},
		{"iterate null", map[string]any{}, ".a[]", "Cannot iterate over null"},
		{"iterate string", map[string]any{"a": "s"}, "[.a[]]", "Cannot iterate over string"},
		// ResolvedRangeFieldAccess.java and BracketFieldAccess.java (range).
		{"slice an object", map[string]any{"a": map[string]any{}}, ".a[1:2]", "Cannot index object with object"},
		{"slice a number", map[string]any{"a": 5}, ".a[:2]", "Cannot index number with object"},
		{"slice bound not a number", map[string]any{"a": []any{1}, "k": "x"}, ".a[.k:]", "Start and end indices of an object slice must be numbers"},
		// internal/operators/*Operator.java through
		// exception/JsonQueryTypeException.java: "type (preview)", the
		// preview Jackson's JSON text cut to 14 characters.
		{"add", map[string]any{"a": "x"}, ".a + 1", `string ("x") and number (1) cannot be added`},
		{"subtract", map[string]any{"a": "x"}, ".a - 1", `string ("x") and number (1) cannot be subtracted`},
		{"multiply", map[string]any{"a": []any{1}}, ".a * {}", `array ([1]) and object ({}) cannot be multiplied`},
		{"divide", map[string]any{"a": []any{1, 2}}, ".a / 2", `array ([1,2]) and number (2) cannot be divided`},
		{"long string cut", map[string]any{"a": "abcdefghijklmnop"}, ".a - 1", `string ("abcdefghij...) and number (1) cannot be subtracted`},
		{"14 characters kept", map[string]any{"a": "abcdefghijkl"}, ".a - 1", `string ("abcdefghijkl") and number (1) cannot be subtracted`},
		{"object cut", map[string]any{"a": map[string]any{"key": "a long value"}}, ".a - 1", `object ({"key":"a l...) and number (1) cannot be subtracted`},
		{"escaped string", map[string]any{"a": "q\"\t\u0001"}, ".a - 1", `string ("q\"\t\u0001") and number (1) cannot be subtracted`},
		{"fraction", map[string]any{"a": 1.5}, `.a - "s"`, `number (1.5) and string ("s") cannot be subtracted`},
		{"whole double", map[string]any{"a": json.Number("1.0")}, `.a - "s"`, `number (1.0) and string ("s") cannot be subtracted`},
		{"not finite", map[string]any{}, `[nan] - "s"`, `array (["NaN"]) and string ("s") cannot be subtracted`},
		{"large double", map[string]any{"a": json.Number("1e20")}, `.a - "s"`, `number (1.0E20) and string ("s") cannot be subtracted`},
		{"small double", map[string]any{"a": 0.0001}, `.a - "s"`, `number (1.0E-4) and string ("s") cannot be subtracted`},
		{"null and boolean", map[string]any{"a": true}, `null - .a`, `null (null) and boolean (true) cannot be subtracted`},
		{"wide characters cut", map[string]any{"a": "😀😀😀😀😀😀😀"}, ".a - 1", `string ("😀😀😀😀😀...) and number (1) cannot be subtracted`},
		// Java cuts between the halves of a surrogate pair; U+FFFD stands
		// for the half.
		{"surrogate pair split", map[string]any{"a": "a😀😀😀😀😀😀"}, ".a - 1", "string (\"a😀😀😀😀\uFFFD...) and number (1) cannot be subtracted"},
		// ModuloOperator.java, DivideOperator.java.
		{"modulo of a string", map[string]any{"a": "x"}, ".a % 2", "to calculate module, both sides must be a integer"},
		{"modulo by a fraction", map[string]any{"h": 0.5}, "5 % .h", "to calculate module, both sides must be a integer"},
		{"modulo by zero", map[string]any{"z": 0}, "5 % .z", "number (5) and number (0) cannot be divided (remainder) because the divisor is zero"},
		{"divide by zero", map[string]any{"n": 1, "z": 0}, ".n / .z", "number (1) and number (0) cannot be divided because the divisor is zero"},
		{"divide a fraction by zero", map[string]any{"n": 1.5, "z": 0}, ".n / .z", "number (1.5) and number (0) cannot be divided because the divisor is zero"},
		// tree/NegativeExpression.java: the negation's input is shown.
		{"negate", map[string]any{"a": map[string]any{"b": "x"}}, ".a | -.b", `object ({"b":"x"}) cannot be negated`},
		{"negate a number", map[string]any{"a": map[string]any{"b": 2}}, ".a | -.b | error(tostring)", "-2"},
		// tree/JsonQueryKeyFieldConstruction.java.
		{"object key not a string", map[string]any{"a": 1}, "{(.a): 1}", `Cannot use number (1) as object key`},
		// functions/ErrorFunction.java, exception/JsonQueryUserException.java:
		// the value as text (JsonNode.asText).
		{"error string", map[string]any{}, `error("custom")`, "custom"},
		{"error number", map[string]any{}, `error(5)`, "5"},
		{"error null", map[string]any{}, `error(null)`, "null"},
		{"error object", map[string]any{}, `error({"a":1})`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]any{"queryExpression": tc.query}
			for k, v := range tc.in {
				in[k] = v
			}
			res := run(t, r, TypeJSONJQTransform, in, nil)
			if res.Status != Failed || res.Reason != tc.want {
				t.Fatalf("%s %q, want FAILED %q", res.Status, res.Reason, tc.want)
			}
			if got := output(t, res)["error"]; got != tc.want {
				t.Fatalf("output error %q", got)
			}
		})
	}
}

// A caught index error reads as jackson-jq's, the key named
// (caughtIndexes).
func TestJQCaughtIndexError(t *testing.T) {
	r := NewDefaultRegistry()
	for _, tc := range []struct{ query, want string }{
		{`try .a.b catch .`, `Cannot index string with string "b"`},
		{`.k as $k | try (.a | .[$k]) catch .`, `Cannot index string with string "x"`},
		{`try ({} | .[1:2]) catch .`, `Cannot index object with object`},
		{`try (try .a.b catch error(.)) catch .`, `Cannot index string with string "b"`},
	} {
		res := run(t, r, TypeJSONJQTransform, map[string]any{"a": "s", "k": "x", "queryExpression": tc.query}, nil)
		wantStatus(t, res, Completed)
		if got := output(t, res)["result"]; got != tc.want {
			t.Fatalf("%s: result %v, want %q", tc.query, got, tc.want)
		}
	}
}

func TestJavaNumber(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{0, "0"}, {-3, "-3"}, {2.0, "2"}, {1.5, "1.5"}, {-0.25, "-0.25"}, {1e7, "10000000"},
		{1e20, "1.0E20"}, {1.5e-7, "1.5E-7"}, {0.001, "0.001"}, {0.0009, "9.0E-4"}, {1234567.5, "1234567.5"},
		{12345678.5, "1.23456785E7"}, {math.Inf(1), "Infinity"}, {math.NaN(), "NaN"},
		{new(big.Int).Lsh(big.NewInt(1), 70), "1180591620717411303424"},
	} {
		if got := javaNumber(tc.v); got != tc.want {
			t.Errorf("javaNumber(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
