package server_test

import (
	"strings"
	"testing"
)

// TestUnauthenticatedTextDoesNotReachTheMasker: the server's masker blanks
// every value it holds out of its logs and answers, so only what an
// authenticated and allowed request stores or reads may be added to it. A
// keySecret sent to POST /api/token that does not log in, and the body of a
// PUT /api/secrets/{key} the caller may not write, are not: otherwise anyone
// could blank chosen words (a run id, "workflowId") out of what the server
// says to everyone, and grow its memory with every request.
func TestUnauthenticatedTextDoesNotReachTheMasker(t *testing.T) {
	ts := newScopedServerYAML(t, scopesYAML, nil)
	const chosenByAnyone, chosenByRita = "wordchosenbyanyone41", "wordchosenbyrita52"
	if st, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"nobody","keySecret":"`+chosenByAnyone+`"}`); st != 401 {
		t.Fatalf("token with an unknown key: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"rita","keySecret":"`+chosenByAnyone+`x"}`); st != 401 {
		t.Fatalf("token with a wrong key secret: %d %s", st, body)
	}
	if st, _, body := ts.as(t, "rita", "PUT", "/api/secrets/private_db", chosenByRita); st != 403 {
		t.Fatalf("rita's PUT of a secret she may not write: %d %s", st, body)
	}
	// The request log names the path: a run id the masker holds is "***".
	echo := func(w string) bool {
		if st, _, body := ts.as(t, "admin", "POST", "/api/tasks/"+w+"/nosuch/COMPLETED", "{}"); st != 404 {
			t.Fatalf("completing a task of run %s: %d %s", w, st, body)
		}
		return strings.Contains(ts.logs.String(), `"path":"/api/tasks/`+w+`/nosuch/COMPLETED"`)
	}
	for _, w := range []string{chosenByAnyone, chosenByAnyone + "x", chosenByRita} {
		if !echo(w) {
			t.Errorf("the server log blanks run id %s out of its request line", w)
		}
	}
	// What an allowed caller stores is masked from then on.
	const stored = "storedbyadminvalue63"
	if st, _, body := ts.as(t, "admin", "PUT", "/api/secrets/admin_db", stored); st != 200 {
		t.Fatalf("admin's PUT: %d %s", st, body)
	}
	if echo(stored) {
		t.Errorf("the server log shows a stored secret's value")
	}
	ts.assertNoLeak(t, stored)
}
