package tasks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/tasks"
)

// leakToken is long and unlike any other text of these tests, so a
// 5-byte window of it found anywhere is a piece of it.
const leakToken = "Zq8Xw7Vu6Ts5Rr4Qp3On"

// assertNoPiece fails when text holds 5 consecutive bytes of any form of
// value (as is, JSON-escaped, base64, URL-escaped).
func assertNoPiece(t *testing.T, what, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		q, _ := json.Marshal(v)
		for _, form := range []string{v, string(q[1 : len(q)-1]), base64.StdEncoding.EncodeToString([]byte(v)), url.QueryEscape(v)} {
			for i := 0; i+5 <= len(form); i++ {
				if strings.Contains(text, form[i:i+5]) {
					t.Fatalf("%s holds %q, a piece of a secret's form %q:\n%s", what, form[i:i+5], form, text)
				}
			}
		}
	}
}

func maskerWith(values ...string) *masking.Masker {
	m := masking.New(masking.WithLogger(nil))
	m.RegisterAll(values...)
	return m
}

func execute(t *testing.T, typ string, input any, svc *tasks.Services) tasks.Result {
	t.Helper()
	r := tasks.NewDefaultRegistry()
	tasks.RegisterExec(r)
	task, _ := r.Lookup(typ)
	b, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	return task.Execute(context.Background(), &tasks.Request{WorkflowID: "wf", TaskID: "t", RefName: "ref", TaskType: typ, Input: b, Services: svc})
}

// An HTTP failure quotes the start of the response body. The body is
// masked whole before it is cut at 256 bytes and before TAB becomes a
// space: a token straddling the cut, or holding a TAB, is never shown.
func TestHTTPFailureExcerptMasksFirst(t *testing.T) {
	const tabbed = "tab\tseparated-credential-77"
	for _, tc := range []struct {
		name, body, secret string
	}{
		{"token across the 256-byte cut", strings.Repeat("x", 250) + leakToken, leakToken},
		{"value with a TAB", "error: " + tabbed, tabbed},
		{"value with a newline", "error: line-one-credential\nline-two-credential", "line-one-credential\nline-two-credential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			res := execute(t, tasks.TypeHTTP, map[string]any{"uri": srv.URL, "method": "GET"}, &tasks.Services{Masker: maskerWith(tc.secret)})
			if res.Status != tasks.Failed || !strings.HasPrefix(res.Reason, "HTTP 403") {
				t.Fatalf("%s: %s", res.Status, res.Reason)
			}
			pieces := []string{tc.secret}
			if strings.Contains(tc.secret, "\t") {
				pieces = append(pieces, strings.ReplaceAll(tc.secret, "\t", " "))
			}
			assertNoPiece(t, "failure reason", res.Reason, pieces...)
		})
	}
}

// JavaScript error text is cut at 1 KiB only after it is masked.
func TestInlineErrorMasksFirst(t *testing.T) {
	res := execute(t, tasks.TypeInline, map[string]any{
		"evaluatorType": "javascript",
		"tok":           leakToken,
		"expression":    "function f(){ throw new Error('e'.repeat(1010) + $.tok); } f();",
	}, &tasks.Services{Masker: maskerWith(leakToken)})
	if res.Status == tasks.Completed {
		t.Fatal("expression did not fail")
	}
	assertNoPiece(t, "INLINE reason", res.Reason, leakToken)
	assertNoPiece(t, "INLINE output", string(res.Output), leakToken)
}

// Code that evaluates a secret as program text gets an error naming the
// first token of it ("Zq8X… is not defined"): a piece of the value, which no
// pattern matches. Every such piece is masked.
func TestInlineErrorMasksPiecesOfValues(t *testing.T) {
	value := leakToken + "-tail.end"
	for _, expr := range []string{"eval($.tok)", "new Function('return ' + $.tok)()"} {
		res := execute(t, tasks.TypeInline, map[string]any{
			"evaluatorType": "javascript", "tok": value, "expression": expr,
		}, &tasks.Services{Masker: maskerWith(value)})
		if res.Status == tasks.Completed || !strings.Contains(res.Reason, "*** is not defined") {
			t.Fatalf("%s: want a masked ReferenceError, got %s %q", expr, res.Status, res.Reason)
		}
		assertNoPiece(t, "INLINE reason", res.Reason, value)
		assertNoPiece(t, "INLINE output", string(res.Output), value)
	}
}

// gojq quotes a 30-byte preview of the value an error is about; the head
// of a longer secret would survive any masker. The preview is dropped.
func TestJQErrorQuotesNoValue(t *testing.T) {
	secret := leakToken + "-and-more-of-it-1234567890"
	res := execute(t, tasks.TypeJSONJQTransform, map[string]any{
		"queryExpression": ".tok | .[]",
		"tok":             secret,
	}, &tasks.Services{Masker: maskerWith(secret)})
	if res.Status != tasks.Failed || res.Reason != "Cannot iterate over string" {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	assertNoPiece(t, "jq reason", res.Reason, secret)
	assertNoPiece(t, "jq output", string(res.Output), secret)
}

// EXEC streams its output to progress lines in 4 KiB pieces when a line is
// longer; the stream is masked before it is cut, so a value across a piece
// boundary (or across two writes of the command) is masked.
func TestExecProgressMasksAcrossPieces(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	svc := &tasks.Services{Masker: maskerWith(leakToken), Logf: func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}}
	script := fmt.Sprintf(`printf '%%s' "$(head -c 4090 /dev/zero | tr '\0' x)"; printf '%s'; sleep 0.05; printf '%s\n'; printf '%%s' "$(head -c 8188 /dev/zero | tr '\0' y)%s"`,
		leakToken[:10], leakToken[10:], leakToken)
	res := execute(t, tasks.TypeExec, map[string]any{"command": []string{"sh", "-c", script}}, svc)
	if res.Status != tasks.Completed {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) < 3 {
		t.Fatalf("expected the long lines in pieces, got %d lines", len(lines))
	}
	assertNoPiece(t, "progress lines", strings.Join(lines, "\n"), leakToken)
	assertNoPiece(t, "EXEC output", string(res.Output), leakToken)
}

// gojq quotes a preview cut at 30 bytes in more places than after a type
// name: a function's input ("tonumber cannot be applied to \"…\""), its
// arguments, a cut object or array whose quotes no longer balance. None of
// them may leave the head of a secret in the reason.
func TestJQErrorPreviewsQuoteNoPiece(t *testing.T) {
	secret := leakToken + "-and-more-of-it-1234567890"
	for _, tc := range []struct{ query, want string }{
		{".tok | tonumber", `For input string: "***"`},
		{".tok | fromjson", ""},
		{".tok | @base64d", ""},
		{".tok | getpath([\"a\"])", "Function getpath/1 does not exist"},
		{".tok | strptime(\"%Y\")", ""},
		{".tok | fromdate", ""},
		{"{(.tok): 1} | .[0]", "Cannot index object with number"},
		{"[.tok] | .[.tok]", `Cannot index array with string "tok"`}, // the key is the query's
		{"[.tok] | ltrimstr(.[0]) | .[1:2] | ltrimstr(1) | tonumber", ""},
		{". as $x | .tok | ltrimstr($x)", ""},
		{".tok | error(.)", "***"},
		{`.tok | .["` + secret + `"]`, `Cannot index string with string "***"`},
		{".tok as $k | 1 | .[$k]", `Cannot index number with string "***"`},
		{".tok | error(. + \" ...\")", ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": tc.query, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
			if res.Status == tasks.Completed {
				t.Fatalf("query did not fail: %s", res.Output)
			}
			if tc.want != "" && res.Reason != tc.want {
				t.Errorf("reason %q, want %q", res.Reason, tc.want)
			}
			assertNoPiece(t, "jq reason", res.Reason, secret)
			assertNoPiece(t, "jq output", string(res.Output), secret)
		})
	}
}

// A URI that does not parse is refused with url.Parse's reason, which
// quotes the part at fault: a password holding '/' (base64 tokens do) in
// the userinfo ends the authority early, and its head is quoted as a
// "port" that no masker can match. The quoted part is left out.
func TestHTTPUnparsableURIQuotesNoPiece(t *testing.T) {
	pw := leakToken[:12] + "/" + leakToken[12:] + "+more/Tail=="
	for _, uri := range []string{
		"http://admin:" + pw + "@127.0.0.1:1/x",
		"http://" + leakToken + ":x@127.0.0.1:1/x", // no '/': parses, the dial fails
	} {
		res := execute(t, tasks.TypeHTTP, map[string]any{"uri": uri, "method": "GET"}, &tasks.Services{Masker: maskerWith(pw, leakToken)})
		if res.Status == tasks.Completed {
			t.Fatalf("%s: completed", uri)
		}
		assertNoPiece(t, "reason", res.Reason, pw, leakToken)
	}
	res := execute(t, tasks.TypeHTTP, map[string]any{"uri": "http://admin:" + pw + "@127.0.0.1:1/x", "method": "GET"}, &tasks.Services{Masker: maskerWith(pw)})
	if res.Status != tasks.FailedTerminal || !strings.Contains(res.Reason, "invalid port") {
		t.Fatalf("%s: %q, want the kind of fault kept", res.Status, res.Reason)
	}
}

// A whole URI can be one secret (a webhook URL whose path is the token). A
// transport failure names the URL without its query: the URL is masked
// whole first, and only then cut, or the path — the token — would be
// shown in clear, the cut text no longer matching the registered value.
func TestHTTPTransportErrorMasksURIBeforeCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = c.Close() // the client sees EOF
		}
	}))
	defer srv.Close()
	uri := srv.URL + "/services/" + leakToken + "?wait=true"
	res := execute(t, tasks.TypeHTTP, map[string]any{"uri": uri, "method": "POST", "body": map[string]any{"text": "hi"}}, &tasks.Services{Masker: maskerWith(uri)})
	if res.Status != tasks.Failed || !strings.Contains(res.Reason, "EOF") {
		t.Fatalf("%s: %q", res.Status, res.Reason)
	}
	assertNoPiece(t, "reason", res.Reason, leakToken)
	// A secret URI with a fragment would be cut at its '#': refused before
	// any request (TestHTTPRefusesSecretCutAtHash), quoting none of it.
	uri = srv.URL + "/services/" + leakToken + "#frag"
	res = execute(t, tasks.TypeHTTP, map[string]any{"uri": uri, "method": "POST", "body": map[string]any{"text": "hi"}}, &tasks.Services{Masker: maskerWith(uri)})
	if res.Status != tasks.FailedTerminal || !strings.Contains(res.Reason, "holds '#'") {
		t.Fatalf("%s: %q", res.Status, res.Reason)
	}
	assertNoPiece(t, "reason", res.Reason, leakToken)
}

// An expression that does not compile is reported with the parser's
// words, which can quote a token of a resolved value the expression holds
// (a password with a quote in it ends the literal early: expr-lang then
// reports "unexpected token Identifier(\"<rest of the value>\")"), a piece
// no pattern matches. Every such piece is masked.
func TestInlineCompileErrorMasksPiecesOfValues(t *testing.T) {
	value := "Zq8Xw7Vu6Ts5Rr4Q'p3On2Ml1Kk0Jj9Hh8Gg7Ff6E"
	res := execute(t, tasks.TypeInline, map[string]any{
		"evaluatorType": "expr", "x": "y", "expression": "$.x == '" + value + "'",
	}, &tasks.Services{Masker: maskerWith(value)})
	if res.Status != tasks.FailedTerminal || !strings.Contains(res.Reason, "compile") {
		t.Fatalf("want a compile error, got %s %q", res.Status, res.Reason)
	}
	assertNoPiece(t, "INLINE reason", res.Reason, value)
	assertNoPiece(t, "INLINE output", string(res.Output), value)
}

// A secret value holding '#' put raw into a URI would be cut there by the
// URL: the part before it sent (a piece no masker knows, echoed back by
// many servers), the rest dropped. The task fails before any request,
// saying how to write it; a '#' outside the values (a fragment) is kept.
func TestHTTPRefusesSecretCutAtHash(t *testing.T) {
	const value = "Frag0Prefix9#rest-of-the-value"
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{"uri":"`+r.RequestURI+`"}`)
	}))
	defer srv.Close()
	svc := &tasks.Services{Masker: maskerWith(value)}
	res := execute(t, tasks.TypeHTTP, map[string]any{"uri": srv.URL + "/echo?q=" + value, "method": "GET"}, svc)
	if res.Status != tasks.FailedTerminal || !strings.Contains(res.Reason, "holds '#'") || strings.Contains(res.Reason, "Frag0") || hits.Load() != 0 {
		t.Errorf("raw: %s %q, %d requests", res.Status, res.Reason, hits.Load())
	}
	res = execute(t, tasks.TypeHTTP, map[string]any{"uri": srv.URL + "/echo?q=" + url.QueryEscape(value) + "#frag", "method": "GET"}, svc)
	if res.Status != tasks.Completed || hits.Load() != 1 {
		t.Errorf("escaped, with a fragment: %s %q", res.Status, res.Reason)
	}
}
