package tasks

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
)

// FuzzJacksonSyntax: the recogniser of jackson-jq's grammar never panics,
// answers the same twice, rewrites what it reads into what gojq reads
// (gojqText), and words every rejection as jackson-jq's
// compile does (a JavaCC parse or lexical error, the lexer's unbalanced
// ')', a number too large). Seeds: the recorded queries.
func FuzzJacksonSyntax(f *testing.F) {
	file, err := os.Open("testdata/jq/jackson-jq-0.0.13.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c jacksonCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			f.Fatal(err)
		}
		f.Add(c.Q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		err := jacksonSyntax(q)
		again := jacksonSyntax(q)
		if (err == nil) != (again == nil) || err != nil && err.Error() != again.Error() {
			t.Fatalf("%q: %v, then %v", q, err, again)
		}
		if err == nil {
			// What jackson-jq reads, gojq reads as rewritten.
			if _, err := gojq.Parse(gojqText(q)); err != nil {
				t.Fatalf("%q as %q: %v", q, gojqText(q), err)
			}
			return
		}
		msg := err.Error()
		for _, p := range []string{"Encountered ", "Lexical error at line ", "Unexpected ')' at line ", "For input string: "} {
			if strings.HasPrefix(msg, p) {
				return
			}
		}
		t.Fatalf("%q: %q", q, msg)
	})
}

// TestJQSyntaxMatchesJacksonJQ: queries jackson-jq 0.0.13 does not
// compile (mutations of the recorded ones, testdata/jq/README.md) fail the
// task with jackson-jq's own message, expected tokens and all.
func TestJQSyntaxMatchesJacksonJQ(t *testing.T) {
	file, err := os.Open("testdata/jq/jackson-jq-0.0.13-syntax.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r := NewDefaultRegistry()
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var c jacksonCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil || c.Err == nil {
			t.Fatalf("line %d: %v", line, err)
		}
		res := run(t, r, TypeJSONJQTransform, map[string]any{"queryExpression": c.Q}, nil)
		if res.Status != Failed || res.Reason != *c.Err {
			t.Errorf("line %d %q:\n got %s %q\nwant FAILED %q", line, c.Q, res.Status, res.Reason, *c.Err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// gojqText rewrites what gojq reads otherwise than jackson-jq, by
// jackson-jq's tokens, and nothing in a string.
func TestGojqText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1.e3", "(1).e3"},
		{"1.5.foo | .a", "(1.5).foo | .a"},
		{"[1.5e3, 1e3, .5, 1.0]", "[1.5e3, 1e3, .5, 1.0]"},
		{"f() | length()", "f | length"},
		{`"f() 1.e3" | f ()`, `"f() 1.e3" | f`},
		{`"\(f())"`, `"\(f)"`},
		{"@base64() , $x()", "@base64() , $x()"},
		{".a.b", ".a.b"},
		{".[:] | $x[ : ]?", ".[] | $x[]?"},
		{`.@x "\(.@y "z")"`, `.[@x "\(.[@y "z"])"]`},
		{`.@base64 "x" | .a.@x "b\("c")" | {@base64 "x": 1, a: @sh "y", @text "z" : 2}`,
			`.[@base64 "x"] | .a[@x "b\("c")"] | {(@base64 "x"): 1, a: @sh "y", (@text "z") : 2}`},
		{`{@base64 "x", @text "a\(.b)\("\(1)")", c}`, `{"x", "a\(.b | @text)\("\(1)" | @text)", c}`},
		{"$ x | @ base64 | {$ y, @ text \"k\": 1} | . as [$ # c\n z] | $z", "$x | @base64 | {$y, (@text \"k\"): 1} | . as [$z] | $z"},
		{"0as[[$A]]|1or 2and 3|4", "0 as[[$A]]|(1 or 2)and 3|4"},
		// Grouped as jackson-jq groups (jqshape.go).
		{"1 == 2 == 3", "(1 == 2) == 3"},
		{"1 + 2 * 3 - 4", "(1 + (2 * 3)) - 4"},
		{"true or false and false", "(true or false) and false"},
		{".a = .b = 1 // 2", ".a = (.b = (1 // 2))"},
		{"def f: 1; f == 1 == true | f", "def f: 1; (f == 1) == true | f"},
		{"1 + def f: 2; f * 3", "1 + ((def f: 2; f) * 3)"},
		{"{a: def f: 1; f, b: .x as $v | $v, c: 1 | 2}", "{a: (def f: 1; f), b: (.x as $v | $v), c: 1 | 2}"},
		{"1, 2 as $x | $x", "(1, 2) as $x | $x"},
		{"try error(1), 1", "try (error(1), 1)"},
		{"try 1 catch . + 1", "(try (1) catch .) + 1"},
		{`"1 == 2 == 3"`, `"1 == 2 == 3"`},
		{"1 == 2 ==", "1 == 2 =="},
	} {
		if got := gojqText(tc.in); got != tc.want {
			t.Errorf("gojqText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
