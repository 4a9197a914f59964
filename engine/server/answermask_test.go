package server_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// noPieceOf fails when text holds value or any 8-byte piece of it; the
// message shows the text around it with the value and the piece replaced.
func noPieceOf(t *testing.T, what, text, value string) {
	t.Helper()
	for i := 0; i+8 <= len(value); i++ {
		p := value[i : i+8]
		k := strings.Index(text, p)
		if k < 0 {
			continue
		}
		lo, hi := max(0, k-160), min(len(text), k+len(p)+160)
		ex := strings.ReplaceAll(strings.ReplaceAll(text[lo:hi], value, "<value>"), p, "<piece>")
		t.Errorf("%s holds the value or a piece of it: …%s…", what, strconv.QuoteToASCII(ex))
		return
	}
}

// TestErrorAnswersMaskKnownValues: an error answer that quotes the
// request's text (a run id, a task id, a name, a search query or sort, the
// ids of a bulk call, a Taskcluster secret's name) does not send back a
// value the server knows (here put through PUT /api/secrets/{key}), nor a
// piece of it where the answer quotes an excerpt, as the 404 for an unknown
// path does not. Found by TestLeakHuntServeSweep.
func TestErrorAnswersMaskKnownValues(t *testing.T) {
	const value = "tokRepro7Qz2Lm8Xc4Vb1Nd6"
	ts := newConductorServer(t, nil)
	if code, _, body := ts.do(t, "PUT", "/api/secrets/repro_tok", `"`+value+`"`); code != 200 {
		t.Fatalf("put secret: %d %s", code, body)
	}
	// Control: the server knows the value.
	if code, _, body := ts.do(t, "GET", "/nosuch/"+value, ""); code != 404 || strings.Contains(body, value) || !strings.Contains(body, "***") {
		t.Fatalf("control: the 404 of an unknown path should mask the value: %d %s", code, strings.ReplaceAll(body, value, "<value>"))
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/workflow/" + value, ""},
		{"GET", "/api/workflow/" + value + "/nosuch", ""},
		{"GET", "/api/tasks/" + value, ""},
		{"POST", "/api/workflow/" + value, "{}"},
		{"GET", "/api/metadata/workflow/" + value, ""},
		{"GET", "/api/workflow/search?query=" + url.QueryEscape(value+"=1"), ""},
		// The parser's excerpt of the rest of the query is cut at 20
		// bytes: the value is masked before the cut, and a value that
		// begins before the excerpt does leaves no piece in it either.
		{"GET", "/api/workflow/search?query=" + url.QueryEscape(`workflowId="`+value), ""},
		{"GET", "/api/workflow/search?query=" + url.QueryEscape(`workflowId=x `+value+` y`), ""},
		{"GET", "/api/tasks/search?sort=" + value + ":ASC", ""},
		{"GET", "/api/event/handler/" + value, ""},
		{"POST", "/api/workflow/bulk/terminate", `["` + value + `"]`},
		{"GET", "/api/secrets/v1/secret/" + value, ""},
	} {
		t.Run(c.method+" "+strings.ReplaceAll(c.path, value, "VALUE"), func(t *testing.T) {
			code, _, body := ts.do(t, c.method, c.path, c.body)
			if code < 400 && !strings.Contains(c.path, "bulk") {
				t.Fatalf("want an error answer, got %d", code)
			}
			noPieceOf(t, "the answer ("+strconv.Itoa(code)+")", body, value)
		})
	}
	// Text that holds no value is quoted as before.
	code, _, body := ts.do(t, "GET", "/api/workflow/search?query="+url.QueryEscape("workflowId=x plainword"), "")
	if code != 400 || !strings.Contains(body, `plainword`) {
		t.Errorf("a bad query without a value: %d %s, want 400 quoting plainword", code, body)
	}
}

// TestPollDataMasksQueueName: a poll for a task type whose name holds a
// value the server knows is recorded masked, as its worker id is: GET
// /api/tasks/queue/polldata/all does not show it. Found by
// TestLeakHuntServeSweep.
func TestPollDataMasksQueueName(t *testing.T) {
	const value = "tokRepro6Wn1Bv4Rc7Lk2Mp9"
	ts := newConductorServer(t, nil)
	if code, _, body := ts.do(t, "PUT", "/api/secrets/repro_tok", `"`+value+`"`); code != 200 {
		t.Fatalf("put secret: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+value+"?workerid="+value+"&count=1&timeout=1", ""); code != 200 {
		t.Fatalf("poll: %d %s", code, strings.ReplaceAll(body, value, "<value>"))
	}
	if code, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/plain_queue?workerid=w1&count=1&timeout=1", ""); code != 200 {
		t.Fatalf("poll: %d %s", code, body)
	}
	_, _, body := ts.do(t, "GET", "/api/tasks/queue/polldata/all", "")
	noPieceOf(t, "GET /api/tasks/queue/polldata/all", body, value)
	if !strings.Contains(body, `"plain_queue"`) || !strings.Contains(body, `"w1"`) {
		t.Errorf("poll data lost the plain poll: %s", body)
	}
}
