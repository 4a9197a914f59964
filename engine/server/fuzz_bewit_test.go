package server

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/store/memory"
)

// FuzzBewit: any bewit (with any ext, certificate included) on a GET is
// refused: it never panics, never authenticates without the client's key,
// and its error never shows the access token.
func FuzzBewit(f *testing.F) {
	const token = "fuzz-token-0123456789abcdef"
	cfg, err := ParseAuthConfig([]byte("taskclusterClients:\n  - clientId: c\n    accessToken: "+token+"\n    scopes: [\"secrets:*\", \"auth:create-client:*\"]\n"), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(memory.New(), WithAuth(cfg), WithLogger(nil))
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	cert := `{"version":1,"scopes":["secrets:get:a"],"start":0,"expiry":99999999999999,"seed":"` + strings.Repeat("s", 44) + `","signature":"x","issuer":"c"}`
	for _, raw := range []string{
		`c\4102444800\bWFj\`,
		`c\4102444800\bWFj\` + base64.StdEncoding.EncodeToString([]byte(`{"certificate":`+cert+`}`)),
		`c\4102444800\bWFj\` + base64.StdEncoding.EncodeToString([]byte(`{"authorizedScopes":["secrets:*"]}`)),
		`tmp\4102444800\bWFj\` + base64.StdEncoding.EncodeToString([]byte(`{"certificate":`+cert+`}`)),
		`\\\`, ``, `c\x\y\z`,
	} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(raw)))
	}
	f.Fuzz(func(t *testing.T, bewit string) {
		req := httptest.NewRequest(http.MethodGet, "/api/secrets/v1/secret/a?bewit="+url.QueryEscape(bewit), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		// No MAC the fuzzer makes is the client's: a bewit is refused (an
		// empty one is no bewit: anonymous, forbidden).
		anonymous := req.URL.Query().Get("bewit") == ""
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusBadRequest && !(anonymous && rec.Code == http.StatusForbidden) {
			t.Fatalf("bewit %q: %d %s", bewit, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), token) {
			t.Fatalf("answer shows the access token: %s", rec.Body)
		}
	})
}
