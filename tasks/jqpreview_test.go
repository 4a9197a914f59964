package tasks_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// jackson-jq's reasons quote values ("string (\"...\") and number (1)
// cannot be added", keys of an index). A value holding a secret, or a
// piece of one, is masked before its preview is cut to 14 characters: no
// piece of the secret reaches the reason or the output, whichever side of
// the cut it falls.
func TestJQPreviewsMaskedBeforeCut(t *testing.T) {
	secret := leakToken + "-and-more-of-it-1234567890"
	for _, tc := range []struct{ query, want string }{
		{".tok + 1", `string ("***") and number (1) cannot be added`},
		// Cut first, the preview would keep the secret's head.
		{`("abcde" + .tok) - 1`, `string ("abcde***") and number (1) cannot be subtracted`},
		{`("abcdefghij" + .tok) - 1`, `string ("abcdefghij...) and number (1) cannot be subtracted`},
		{`.tok[0:12] - 1`, `string ("***") and number (1) cannot be subtracted`},
		{`{"k": .tok} - 1`, `object ({"k":"***"}) and number (1) cannot be subtracted`},
		{`{(.tok): 1} - 1`, `object ({"***":1}) and number (1) cannot be subtracted`},
		{`1 - {"a": [.tok]}`, `number (1) and object ({"a":["***"]}) cannot be subtracted`},
		{`{t: .tok} | -(.t)`, `object ({"t":"***"}) cannot be negated`},
		{`{(.tok | length): 1}`, `Cannot use number (46) as object key`},
		{`.tok as $k | {} | .[$k[0:9]] | .x[0]`, ""},
		{`.tok as $k | 1 | .[$k[0:9]]`, `Cannot index number with string "***"`},
		{`error(.tok[3:20])`, "***"},
		// Builtins whose messages quote a whole value.
		{`.tok | contains(1)`, `string ("***") and number (1) cannot have their containment checked`},
		{`{"k": .tok} | utf8bytelength`, `object ({"k":"***"}) only strings have UTF-8 byte length`},
		{`.tok | tonumber`, `For input string: "***"`},
		// fromjson's reason quotes the text (jqfromjson.go), masked whole
		// before Jackson's cut at 500 characters.
		{`.tok | fromjson`, "Unrecognized token '***': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n" +
			` at [Source: (String)"***"; line: 1, column: 21]`},
		{`("[" + .tok) | fromjson`, "Unrecognized token '***': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n" +
			` at [Source: (String)"[***"; line: 1, column: 22]`},
		// A piece of the secret glued to other text.
		{`("ab" + .tok[0:12]) | tonumber`, `For input string: "ab***"`},
		{`("ab" + .tok[3:15] + "yz") - 1`, `string ("ab***yz") and number (1) cannot be subtracted`},
		{`.tok as $t | {} | .["k-" + $t[5:17]] | .x.y`, ""},
		{`.tok as $t | 1 | .["k-" + $t[5:17]]`, `Cannot index number with string "k-***"`},
		{`error("x" + .tok[2:14])`, "x***"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": tc.query, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
			if tc.want == "" {
				if res.Status != tasks.Completed {
					t.Fatalf("%s %q", res.Status, res.Reason)
				}
				return
			}
			if res.Status != tasks.Failed || res.Reason != tc.want {
				t.Fatalf("%s %q, want FAILED %q", res.Status, res.Reason, tc.want)
			}
			assertNoPiece(t, "jq reason", res.Reason, secret)
			assertNoPiece(t, "jq output", string(res.Output), secret)
		})
	}
}

// fromjson's reason quotes its text, cut at 500 characters by Jackson:
// a secret across the cut is masked whole before it, in the token the
// message names and in the text.
func TestJQFromJSONMasksBeforeCut(t *testing.T) {
	secret := leakToken + "-and-more-of-it-1234567890"
	for _, tc := range []struct{ query, want string }{
		{`(("a" * 480) + .tok) | fromjson`, "Unrecognized token 'aaaa"},
		{`(("[" * 490) + .tok) | fromjson`, `[[[***"; line: 1, column: 511]`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": tc.query, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
			if res.Status != tasks.Failed || !strings.Contains(res.Reason, tc.want) {
				t.Fatalf("%s %q, want FAILED with %q", res.Status, res.Reason, tc.want)
			}
			assertNoPiece(t, "jq reason", res.Reason, secret)
			assertNoPiece(t, "jq output", string(res.Output), secret)
		})
	}
}

// A negation caught by the query hands it wfrun's own message: the type,
// with no preview cut from the unmasked value.
func TestJQCaughtNegationQuotesNoPiece(t *testing.T) {
	secret := leakToken + "-and-more-of-it-1234567890"
	res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": `try (-(.tok)) catch .`, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
	if res.Status != tasks.Completed || !strings.Contains(string(res.Output), "cannot negate: string") {
		t.Fatalf("%s %q %s", res.Status, res.Reason, res.Output)
	}
	assertNoPiece(t, "jq output", string(res.Output), secret)
}

// A caught error's message quotes the values it failed on as previews
// (gojq's, cut at 30 bytes; an operator's as jackson-jq's, cut at 14
// characters): the handler gets it masked whole and then its pieces, and
// an operator's previews are built from masked values, so no head of a
// secret reaches the output.
func TestJQCaughtMessageQuotesNoPiece(t *testing.T) {
	secret := leakToken + "-and-more-of-it-1234567890"
	for _, tc := range []struct{ query, has string }{
		{`try (.tok + 1) catch .`, `string (\"***\") and number (1) cannot be added`},
		{`try (.tok | tonumber) catch .`, ""},
		{`try (.tok.a) catch .`, `Cannot index string with string \"a\"`},
		{`.tok as $k | try (.tok | .[$k]) catch .`, `Cannot index string with string \"***\"`},
		{`try ({a: .tok} | .[0]) catch .`, "Cannot index object with number"},
		{`try (.tok | implode) catch .`, "implode"},
		{`try ([.tok] | .[0] = {} | .[0] - 1) catch .`, "object ({}) and number (1) cannot be subtracted"},
		{`try (.tok + 1) catch ("got: " + .)`, `got: string (\"***\") and number (1) cannot be added`},
		{`[.tok | try (. * {}) catch .]`, "cannot be multiplied"},
		{`try (try (.tok - 1) catch error(.)) catch .`, "cannot be subtracted"},
		{`try ({k: .tok} - 1) catch .`, `object ({\"k\":\"***\"}) and number (1) cannot be subtracted`},
		{`try (["x-\(.tok)"] - 1) catch .`, `array ([\"x-***\"]) and number (1) cannot be subtracted`},
		{`try error(.tok) catch .`, `"***"`},
		{`try error("plain ...") catch .`, "plain ..."},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": tc.query, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
			if res.Status != tasks.Completed || !strings.Contains(string(res.Output), tc.has) {
				t.Fatalf("%s %q %s, want COMPLETED with %q", res.Status, res.Reason, res.Output, tc.has)
			}
			assertNoPiece(t, "jq output", string(res.Output), secret)
		})
	}
	// Re-raised, the masked message is the reason.
	res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": `try (.tok + 1) catch error(.)`, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
	if res.Status != tasks.Failed {
		t.Fatalf("%s %s", res.Status, res.Output)
	}
	assertNoPiece(t, "jq reason", res.Reason, secret)
}

// gojq cuts a preview at 30 bytes; when the query glued a secret to other
// text ("id:" + .tok), the cut leaves a head of the secret inside a word
// ("id:Zq8Xw7…") that word masking does not take for a piece. A caught
// message is masked as failure reasons are, with the pieces glued to text.
func TestJQCaughtGluedPreviewQuotesNoPiece(t *testing.T) {
	secret := "Zq8Xw7Vu6Ts5Rr4Qp3On2Ml1Kk0Jj9Hh8Gg7Ff6E"
	for _, query := range []string{
		`try (("id:" + .tok) | tonumber) catch .`,
		`try (("token=" + .tok) | has("a")) catch .`,
		`try (("id:" + .tok) | .[]) catch .`,
		`try (["id:" + .tok] | implode) catch .`,
		`try (("id:" + .tok) | join(",")) catch .`,
	} {
		t.Run(query, func(t *testing.T) {
			res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": query, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
			if res.Status != tasks.Completed || !strings.Contains(string(res.Output), "cannot") {
				t.Fatalf("%s %q %s, want COMPLETED with the caught message", res.Status, res.Reason, res.Output)
			}
			assertNoPiece(t, "jq output", string(res.Output), secret)
		})
	}
}

// fromjson's message quotes the text it failed on, cut at Jackson's 500
// characters. A try/catch handed that message cut before it was masked: a
// secret across the cut, glued to the text before it, left its head in
// the task's output. The caught message is masked first, then cut.
func TestJQCaughtFromJSONMasksBeforeCut(t *testing.T) {
	secret := "Zq8Xw7Vu6Ts5Rr4Qp3On2Ml1Kk0Jj9Hh8Gg7Ff6E"
	for _, pad := range []int{480, 490, 495} {
		res := execute(t, tasks.TypeJSONJQTransform, map[string]any{
			"queryExpression": `try ((.pad + .tok) | fromjson) catch .`,
			"tok":             secret, "pad": strings.Repeat("a", pad),
		}, &tasks.Services{Masker: maskerWith(secret)})
		if res.Status != tasks.Completed || !strings.Contains(string(res.Output), "Unrecognized token") {
			t.Fatalf("pad %d: %s %q %s, want COMPLETED with fromjson's message", pad, res.Status, res.Reason, res.Output)
		}
		assertNoPiece(t, "jq output", string(res.Output), secret)
	}
}
