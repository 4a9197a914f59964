package server_test

import (
	"net/url"
	"strings"
	"testing"
)

// A client may put any text in a request's path or method (a token pasted
// into a URL): a value the server knows as a secret is masked in the access
// log line and in the 404 answer that names the request; the log line
// names a method that is not a standard one "other".
func TestUnknownRequestMasksSecretInPathAndMethod(t *testing.T) {
	const secret = "Pw4Rk8Zt2Hq6Jm9Vc3Lx"
	ts := newTestServer(t)
	ts.srv.Masker().Register(secret)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v9/tokens/" + secret},
		{"GET", "/v9/tokens/" + url.PathEscape("x "+secret)},
		{secret, "/v9/nothing"},
	} {
		status, _, body := ts.do(t, tc.method, tc.path, "")
		if status != 404 || !strings.Contains(body, "no API at") {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, status, body)
		}
		if strings.Contains(body, secret) {
			t.Fatalf("%s %s: the 404 answer quotes the value: %s", tc.method, tc.path, body)
		}
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `"path":"/v9/tokens/***"`) || !strings.Contains(logs, `"method":"other","path":"/v9/nothing"`) {
		t.Fatalf("no access log line for the requests:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Fatalf("the log holds the value:\n%s", logs)
	}
}
