package tasks_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// A client with a cookie Jar (Services.HTTPClient, WithHTTPClient): a
// redirect the task follows to a host of its followRedirects list gets no
// cookie from the jar. The jar scopes cookies by host, not port (RFC 6265),
// so without that, the session cookie the first origin set on its
// redirecting response would reach the other origin (here the same IP on
// another port). Hops within the first origin keep the jar's cookies.
func TestHTTPRedirectToListedHostGetsNoJarCookie(t *testing.T) {
	const session = "origin-session-cookie-8d3f1a"
	other := newRecorder(t)
	var origin *httptest.Server
	var sameOriginCookie string
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: session, Path: "/"})
			http.Redirect(w, r, origin.URL+"/again", http.StatusFound)
		case "/again":
			sameOriginCookie = r.Header.Get("Cookie")
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		}
	}))
	defer origin.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	otherHost := strings.TrimPrefix(other.URL, "http://")
	in := map[string]any{"uri": origin.URL + "/login", "method": "GET", "followRedirects": []string{otherHost}}
	res := execute(t, tasks.TypeHTTP, in, &tasks.Services{HTTPClient: client, Masker: maskerWith(session)})
	if res.Status != tasks.Completed {
		t.Fatalf("%s: %s", res.Status, res.Reason)
	}
	if sameOriginCookie != "session="+session {
		t.Fatalf("the hop within the first origin got Cookie %q, want the jar's session cookie", sameOriginCookie)
	}
	got := other.requests()
	if !strings.Contains(got, "/landing") {
		t.Fatalf("the listed host was not reached: %q", got)
	}
	assertNoPiece(t, "the other host's requests", got, session)
	if strings.Contains(got, "Cookie=") {
		t.Fatalf("the other host got a cookie: %q", got)
	}
	// The jar itself is left as it was: a later call to the first origin
	// sends its cookie.
	u, err := url.Parse(origin.URL)
	if err != nil {
		t.Fatal(err)
	}
	if cs := jar.Cookies(u); len(cs) != 1 || cs[0].Value != session {
		t.Fatalf("jar holds %v", cs)
	}
}
