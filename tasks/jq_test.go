package tasks

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/itchyny/gojq"
)

func TestJQ(t *testing.T) {
	r := NewDefaultRegistry()
	cases := []struct {
		name       string
		in         map[string]any
		result     string
		resultList string
	}{
		// The example of Conductor's JSON_JQ_TRANSFORM documentation.
		{"conductor docs", map[string]any{
			"key1":            map[string]any{"value1": []any{"a", "b"}},
			"key2":            map[string]any{"value2": []any{"c", "d"}},
			"queryExpression": "{ key3: (.key1.value1 + .key2.value2) }",
		}, `{"key3":["a","b","c","d"]}`, `[{"key3":["a","b","c","d"]}]`},
		{"several results", map[string]any{"items": []any{1, 2, 3}, "queryExpression": ".items[] | . * 2"}, `2`, `[2,4,6]`},
		{"no result", map[string]any{"queryExpression": "empty"}, `null`, `[]`},
		{"select and map", map[string]any{"users": []any{map[string]any{"n": "a", "ok": true}, map[string]any{"n": "b", "ok": false}},
			"queryExpression": "[.users[] | select(.ok) | .n]"}, `["a"]`, `[["a"]]`},
		// jackson-jq takes an operator's left side first
		// (tree/binaryop/SimpleBinaryOperatorExpression.java).
		{"left side first", map[string]any{"queryExpression": "[(1,2) + (10,20)]"}, `[11,21,12,22]`, `[[11,21,12,22]]`},
		{"left side first, compared", map[string]any{"queryExpression": "[(1,2) == (1,2)]"}, `[true,false,false,true]`, `[[true,false,false,true]]`},
		{"a constant side keeps the order", map[string]any{"l": []any{1, 2}, "queryExpression": "[.l[] * (1,2)]"}, `[1,2,2,4]`, `[[1,2,2,4]]`},
		{"assign through parentheses", map[string]any{"a": map[string]any{}, "queryExpression": "(.a).b = 1 | .a"}, `{"b":1}`, `[{"b":1}]`},
		{"assign with a ?", map[string]any{"a": 1, "queryExpression": ".a? = 2 | .a"}, `2`, `[2]`},
		// jackson-jq takes every key for each value indexed
		// (tree/fieldaccess/FieldAccess.java); a number key reads arrays
		// and keeps path, assignment and del working.
		{"each value indexed by every key", map[string]any{"queryExpression": "[[[1,2],[3,4]] | .[0,1][0,1]]"}, `[1,2,3,4]`, `[[1,2,3,4]]`},
		{"a number key in an update", map[string]any{"l": []any{1, 2}, "k": 1, "queryExpression": "[(.l[.k] |= . + 1 | .l), (.l[0] = 5 | .l), del(.l[-1]).l, .l[1.0]]"},
			`[[1,3],[5,2],[1],2]`, `[[[1,3],[5,2],[1],2]]`},
		{"a string indexed by a number, caught", map[string]any{"a": "s", "queryExpression": "[.a[0]?, (try .a[0] catch .)]"},
			`["Cannot index string with number"]`, `[["Cannot index string with number"]]`},
		// The builtins wfrun defines as jackson-jq does (jqdefs.go) give
		// what gojq's give on the input they take.
		{"builtins defined as jackson-jq's", map[string]any{"queryExpression": `[[[3,1],[2]] | transpose, ([{"a":2},{"a":1}] | sort_by(.a), group_by(.a), unique_by(.a), min_by(.a), max_by(.a)), ({"a":1} | has("a"), del(.a)), ("a" | in({"a":1})), ("b" | inside("abc")), ([1,2,3] | del(.[0,2]))]`},
			`[[[3,2],[1,null]],[{"a":1},{"a":2}],[[{"a":1}],[{"a":2}]],[{"a":1},{"a":2}],{"a":1},{"a":2},true,{},true,true,[2]]`,
			`[[[[3,2],[1,null]],[{"a":1},{"a":2}],[[{"a":1}],[{"a":2}]],[{"a":1},{"a":2}],{"a":1},{"a":2},true,{},true,true,[2]]]`},
		// fromjson reads the first value of its text, as Jackson does.
		{"fromjson reads the first value", map[string]any{"queryExpression": `["1 2", "", "[1]x", "{\"a\":1,\"a\":2}", " [1.5e3, \"\\u00e9\"] "] | map(fromjson)`},
			`[1,null,[1],{"a":2},[1500,"é"]]`, `[[1,null,[1],{"a":2},[1500,"é"]]]`},
		// {a} reads a with JsonNode.get: null on what is not an object.
		{"object shorthand on any value", map[string]any{"queryExpression": `[[1,"x",{"k":1},null,[2]][] | {k, "k2": 2, "k"}]`},
			`[{"k":null,"k2":2},{"k":null,"k2":2},{"k":1,"k2":2},{"k":null,"k2":2},{"k":null,"k2":2}]`,
			`[[{"k":null,"k2":2},{"k":null,"k2":2},{"k":1,"k2":2},{"k":null,"k2":2},{"k":null,"k2":2}]]`},
		// jackson-jq reads 1.e3 as 1 | .e3, f() as f and .[:] as .[] (jqtext.go);
		// length() is the input's, which holds queryExpression.
		{".[:] iterates", map[string]any{"queryExpression": `[[[1,2,[3]][:]], [{"a":1,"b":2}[:]], ([1,2] | .[:] = 5), length(), 1.5e1]`},
			`[[1,2,[3]],[1,2],[5,5],1,15]`, `[[[1,2,[3]],[1,2],[5,5],1,15]]`},
		// A format string as a key (jqtext.go): the format applies to what
		// is interpolated only.
		{"format string keys", map[string]any{"queryExpression": `[({"eA==": 7, "x": 8} | .@base64 "x"), {@base64 "x": 1, @text "\(1+1)": 2}, ({"a": {"b": 3}} | .a.@text "b"), ({"x": 1} | . as {@text "x": $v} | $v), ({"YWI=": 5, "ab": 6} | .@base64 "\("ab")")]`},
			`[8,{"2":2,"x":1},3,1,5]`, `[[8,{"2":2,"x":1},3,1,5]]`},
		// jackson-jq's own names (jq.json there).
		{"group", map[string]any{"queryExpression": "[1,2,1] | [group, group(. % 2)]"}, `[[[1,1],[2]],[[2],[1,1]]]`, `[[[[1,1],[2]],[[2],[1,1]]]]`},
		{"sort(f)", map[string]any{"queryExpression": "[3,1,2] | sort(-.)"}, `[3,2,1]`, `[[3,2,1]]`},
		{"min(f), max(f)", map[string]any{"queryExpression": `[{"a":2},{"a":1}] | [min(.a), max(.a)]`}, `[{"a":1},{"a":2}]`, `[[{"a":1},{"a":2}]]`},
		{"unique(f)", map[string]any{"queryExpression": "[1,2,1,3] | unique(. % 2)"}, `[2,1]`, `[[2,1]]`},
		{"recurse_down", map[string]any{"queryExpression": "[[1]] | [recurse_down]"}, `[[[1]],[1],1]`, `[[[[1]],[1],1]]`},
		{"a definition of the query's own first", map[string]any{"queryExpression": "def group: 5; group"}, `5`, `[5]`},
		{"a function of the query's own", map[string]any{"queryExpression": "def round: 7; round"}, `7`, `[7]`},
		{"a variable of the query's own", map[string]any{"queryExpression": "1 as $ENV | $ENV"}, `1`, `[1]`},
		{"an unknown function not called", map[string]any{"queryExpression": "if false then nosuch(1) else 3 end"}, `3`, `[3]`},
		{"an unknown variable's key", map[string]any{"queryExpression": "{$nope}"}, `{"nope":null}`, `[{"nope":null}]`},
		{"a missing builtin not called", map[string]any{"queryExpression": "if false then now else 2 end"}, `2`, `[2]`},
		{"a missing builtin caught", map[string]any{"queryExpression": "try getpath([\"a\"]) catch ."}, `"Function getpath/1 does not exist"`, `["Function getpath/1 does not exist"]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, r, TypeJSONJQTransform, tc.in, nil)
			wantStatus(t, res, Completed)
			out := output(t, res)
			if got := jsonText(t, out["result"]); got != tc.result {
				t.Fatalf("result %s, want %s", got, tc.result)
			}
			if got := jsonText(t, out["resultList"]); got != tc.resultList {
				t.Fatalf("resultList %s, want %s", got, tc.resultList)
			}
		})
	}
}

// The process environment is out of a query's reach twice over: $ENV and
// env do not exist (as in Conductor's jq), and the environment gojq would
// give them is empty.
func TestJQEnvNotLeaked(t *testing.T) {
	t.Setenv("WFRUN_TEST_SECRET_ENV", "leak-me")
	for q, reason := range map[string]string{
		"$ENV.WFRUN_TEST_SECRET_ENV":             "Undefined variable: $ENV",
		"env.WFRUN_TEST_SECRET_ENV":              "Function env/0 does not exist",
		"def f: $ENV; try f catch env":           "Function env/0 does not exist",
		"[paths] | $__loc__":                     "Undefined variable: $__loc__",
		"{a: $ENV.WFRUN_TEST_SECRET_ENV} | .a.b": "Undefined variable: $ENV",
	} {
		res := run(t, NewDefaultRegistry(), TypeJSONJQTransform, map[string]any{"queryExpression": q}, nil)
		if res.Status != Failed || res.Reason != reason || strings.Contains(string(res.Output), "leak-me") {
			t.Fatalf("%s: %s %q %s", q, res.Status, res.Reason, res.Output)
		}
	}
	q, err := gojq.Parse("[$ENV, env] | map(length)")
	if err != nil {
		t.Fatal(err)
	}
	code, err := gojq.Compile(q, jqCompileOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := code.Run(nil, jqMaskerValue{}, newJQOrders()).Next(); fmt.Sprint(v) != "[0 0]" || os.Getenv("WFRUN_TEST_SECRET_ENV") != "leak-me" {
		t.Fatalf("process environment reachable: %v", v)
	}
}

func TestJQFailures(t *testing.T) {
	// Only the endless query may meet the deadline: the other cases get one
	// no loaded machine reaches, so each fails for its own reason and not
	// because the process was descheduled for longer than a short deadline.
	limited := NewDefaultRegistry(WithJQLimits(time.Minute, 1000))
	short := NewDefaultRegistry(WithJQLimits(100*time.Millisecond, 1000))
	cases := []struct {
		name   string
		in     map[string]any
		status Status
		reason string
	}{
		{"type error", map[string]any{"a": 1, "queryExpression": ".a.b"}, Failed, `Cannot index number with string "b"`},
		{"index an array", map[string]any{"a": true, "queryExpression": ".a[0]"}, Failed, "Cannot index boolean with number"},
		{"iterate", map[string]any{"a": true, "queryExpression": ".a[]"}, Failed, "Cannot iterate over boolean"},
		{"other runtime error", map[string]any{"a": "x", "queryExpression": ".a + 1"}, Failed, `string ("x") and number (1) cannot be added`},
		{"error()", map[string]any{"queryExpression": `error("custom")`}, Failed, "custom"},
		{"halt", map[string]any{"queryExpression": "1, halt, 2"}, Failed, "Function halt/0 does not exist"},
		// Conductor fails these FAILED too (retryable), not terminally.
		{"parse error", map[string]any{"queryExpression": ".a | | ."}, Failed, "Encountered \" \"|\" \"| \"\" at line 1, column 6.\nWas expecting one of:\n"},
		{"query ends early", map[string]any{"queryExpression": "{"}, Failed, `Encountered "<EOF>" at line 1, column 1.`},
		{"empty query", map[string]any{"queryExpression": ""}, Failed, `Encountered "<EOF>" at line 0, column 0.`},
		{"unknown function", map[string]any{"queryExpression": "nosuchfn(1)"}, Failed, "Function nosuchfn/1 does not exist"},
		{"missing query", map[string]any{"a": 1}, Failed, "Missing 'queryExpression' in input parameters"},
		{"query not a string", map[string]any{"queryExpression": 7}, Failed, "Missing 'queryExpression' in input parameters"},
		{"too many results", map[string]any{"queryExpression": "range(100000000)"}, Failed, "more than 1000 results"},
		{"endless", map[string]any{"queryExpression": "last(range(1e12))"}, Failed, "deadline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := limited
			if tc.reason == "deadline" {
				r = short
			}
			res := run(t, r, TypeJSONJQTransform, tc.in, nil)
			wantStatus(t, res, tc.status, tc.reason)
			if output(t, res)["error"] == nil {
				t.Fatalf("no output error: %s", res.Output)
			}
		})
	}
}

func TestJQCompileCache(t *testing.T) {
	task := newJQTask(buildOptions(nil))
	a, err := task.compile(".a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := task.compile(".a")
	if a != b {
		t.Fatal("query compiled twice")
	}
}

// jq (jackson-jq in Conductor) names the key a query failed to read:
// JsonJQTransformSpec asserts `Cannot index string with string "array"`.
// Keys are named wherever the read is, from the query text or computed
// from data, as jackson-jq writes them (inside quotes, not escaped), in
// a path expression and out of one. A query that catches the error goes on as
// it would have: the key finding changes no result.
func TestJQIndexErrorNamesKey(t *testing.T) {
	r := NewDefaultRegistry()
	spec := ".input as $_ | { out: ($_.in1.array + $_.in2.array) }"
	cases := []struct {
		name   string
		in     map[string]any
		reason string
	}{
		{"JsonJQTransformSpec", map[string]any{"input": map[string]any{"in1": "a", "in2": "b"}, "queryExpression": spec},
			`Cannot index string with string "array"`},
		{"first of two", map[string]any{"a": map[string]any{"b": true}, "queryExpression": ".a.b.c.d"}, `Cannot index boolean with string "c"`},
		{"quoted key", map[string]any{"a": []any{1}, "queryExpression": `.a."x y"`}, `Cannot index array with string "x y"`},
		{"bracket key", map[string]any{"a": 2, "queryExpression": `.a["k\"q"]`}, `Cannot index number with string "k"q"`},
		{"in a function", map[string]any{"a": "s", "queryExpression": `def f: .q; [.a | f]`}, `Cannot index string with string "q"`},
		{"after an array index", map[string]any{"a": []any{"s"}, "queryExpression": `.a[0].b`}, `Cannot index string with string "b"`},
		{"in reduce", map[string]any{"a": []any{1, 2}, "queryExpression": `reduce .a[] as $x (0; . + ($x | .v))`}, `Cannot index number with string "v"`},
		{"after a caught one", map[string]any{"a": "s", "queryExpression": `(try .a.b catch "c"), .a.z`}, `Cannot index string with string "z"`},
		{"key from data", map[string]any{"a": "s", "k": "name", "queryExpression": `.k as $k | .a | .[$k]`}, `Cannot index string with string "name"`},
		{"in a path expression", map[string]any{"a": "s", "queryExpression": `.a.b |= 1`}, `Cannot index string with string "b"`},
		{"after a path expression", map[string]any{"a": map[string]any{}, "c": "s", "queryExpression": `(.a.b |= 1), .c.d`}, `Cannot index string with string "d"`},
		{"in an update's value", map[string]any{"a": "s", "queryExpression": `.a |= .b`}, `Cannot index string with string "b"`},
		{"in an assignment's path", map[string]any{"a": "s", "queryExpression": `.a.b = 1`}, `Cannot index string with string "b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, r, TypeJSONJQTransform, tc.in, nil)
			if res.Status != Failed || res.Reason != tc.reason {
				t.Fatalf("%s %q, want FAILED %q", res.Status, res.Reason, tc.reason)
			}
			if got := output(t, res)["error"]; got != tc.reason {
				t.Fatalf("output error %v", got)
			}
		})
	}
	// Caught, the error reads as jackson-jq's too (caughtIndexes).
	res := run(t, r, TypeJSONJQTransform, map[string]any{"a": "s", "queryExpression": `try .a.b catch .`}, nil)
	wantStatus(t, res, Completed)
	if got := output(t, res)["result"]; got != `Cannot index string with string "b"` {
		t.Fatalf("result %v", got)
	}
}

// A number that is not finite is written as Conductor's ObjectMapper
// writes a double (Jackson's WRITE_NAN_AS_STRINGS, on by default), in the
// result and in the result list, however deep.
func TestJQNonFiniteAsConductorWrites(t *testing.T) {
	r := NewDefaultRegistry()
	for _, tc := range []struct{ query, want string }{
		{"infinite", `{"result":"Infinity","resultList":["Infinity"]}`},
		{"-infinite, nan", `{"result":"-Infinity","resultList":["-Infinity","NaN"]}`},
		{"{a: [1.5, nan], b: {c: -1e1000}}", `{"result":{"a":[1.5,"NaN"],"b":{"c":"-Infinity"}},"resultList":[{"a":[1.5,"NaN"],"b":{"c":"-Infinity"}}]}`},
		{`"[1e400]" | fromjson`, `{"result":["Infinity"],"resultList":[["Infinity"]]}`},
		{"[1, 2.5]", `{"result":[1,2.5],"resultList":[[1,2.5]]}`},
	} {
		res := run(t, r, TypeJSONJQTransform, map[string]any{"queryExpression": tc.query}, nil)
		wantStatus(t, res, Completed)
		if string(res.Output) != tc.want {
			t.Errorf("%s: output %s, want %s", tc.query, res.Output, tc.want)
		}
	}
}

// Java's long and double conversions the operators follow (jqlong.go).
func TestJavaLongConversions(t *testing.T) {
	big63 := new(big.Int).Lsh(big.NewInt(1), 63)
	for _, tc := range []struct {
		v    any
		want int64
		ok   bool
	}{
		{7, 7, true}, {-7, -7, true}, {big63, math.MinInt64, true},
		{new(big.Int).Neg(new(big.Int).Add(big63, big.NewInt(1))), math.MaxInt64, true},
		{new(big.Int).Lsh(big.NewInt(3), 64), 0, true}, {1.0, 0, false}, {"1", 0, false},
	} {
		if got, ok := javaLong(tc.v); got != tc.want || ok != tc.ok {
			t.Errorf("javaLong(%v) = %d, %v; want %d, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		f    float64
		want string // the value and whether it is an integer or a float
	}{
		{2, "2 integer"}, {-2.5, "-2.5 float"}, {9.223372036854775807e18, "9223372036854775807 integer"},
		{-9.223372036854775807e18, "-9223372036854775808 integer"}, {1e19, "1e+19 float"}, {math.Inf(-1), "-Inf float"},
	} {
		got := javaNumeric(tc.f)
		kind := "integer"
		if _, isFloat := got.(float64); isFloat {
			kind = "float"
		}
		if s := fmt.Sprint(got) + " " + kind; s != tc.want {
			t.Errorf("javaNumeric(%v) = %s, want %s", tc.f, s, tc.want)
		}
	}
}

// The task output is written as Conductor's ObjectMapper writes
// jackson-jq's results: a double (read from the input's 1.0, or computed)
// in Java's text, an integer as digits, a number that is not finite as a
// string.
func TestJQOutputJavaText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"x":1.0,"queryExpression":"[.x, 1e20, 2, 4 / 2, 1.5 * 2, 1 / 4, infinite, -infinite, nan]"}`,
			`{"result":[1.0,1.0E20,2,2,3,0.25,"Infinity","-Infinity","NaN"],"resultList":[[1.0,1.0E20,2,2,3,0.25,"Infinity","-Infinity","NaN"]]}`},
		{`{"n":12345678901234567890,"e":1E2,"queryExpression":".n, .e, (.e | floor)"}`,
			`{"result":12345678901234567890,"resultList":[12345678901234567890,100.0,100.0]}`},
		{`{"queryExpression":"empty"}`, `{"result":null,"resultList":[]}`},
		// jackson-jq's key order (jqkeyorder.go): a {…} in HashMap
		// order, an assignment's new key last, + the left side's keys first.
		{`{"queryExpression":"{if: 1, then: 2, and: 3} | .b = ({z: 1} + {a: 2})"}`,
			`{"result":{"and":3,"then":2,"if":1,"b":{"z":1,"a":2}},"resultList":[{"and":3,"then":2,"if":1,"b":{"z":1,"a":2}}]}`},
		{`{"s":"<\u00e9\"\n>","queryExpression":".s"}`, `{"result":"<é\"\n>","resultList":["<é\"\n>"]}`},
	} {
		res := run(t, NewDefaultRegistry(), TypeJSONJQTransform, tc.in, nil)
		wantStatus(t, res, Completed)
		if string(res.Output) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.in, res.Output, tc.want)
		}
	}
}

// BenchmarkJQ runs queries that iterate, compare and build objects, the
// parts wfrun computes as jackson-jq does (jqkeyorder.go, jqcompare.go,
// jqlong.go), on a 1000-item input.
func BenchmarkJQ(b *testing.B) {
	items := make([]any, 1000)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": fmt.Sprint("n", i), "tags": map[string]any{"b": i % 3, "a": 1.5}}
	}
	for _, q := range []string{
		`[.items[] | select(.id % 2 == 0) | {name, id, t: (.tags | to_entries | map(.key))}] | length`,
		`reduce .items[] as $x ({}; .[$x.name] = $x.id) | keys_unsorted | length`,
		`[.items[].tags[]] | add`,
	} {
		b.Run(q, func(b *testing.B) {
			r := NewDefaultRegistry()
			in := map[string]any{"items": items, "queryExpression": q}
			for b.Loop() {
				if res := run(b, r, TypeJSONJQTransform, in, nil); res.Status != Completed {
					b.Fatal(res.Reason)
				}
			}
		})
	}
}
