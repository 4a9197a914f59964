package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDemoTokenEndpoint(t *testing.T) {
	srv := httptest.NewServer(&tokenEndpoint{keyID: "app", keySecret: []byte("s3cret-key-secret")})
	defer srv.Close()
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"ready", "GET", "/healthz", "", 200, `{"status":"ok"}`},
		{"token", "POST", "/token", `{"keyId":"app","keySecret":"s3cret-key-secret"}`, 200, `"token":"tok-1-`},
		{"second token", "POST", "/token", `{"keyId":"app","keySecret":"s3cret-key-secret"}`, 200, `"token":"tok-2-`},
		{"wrong secret", "POST", "/token", `{"keyId":"app","keySecret":"nope"}`, 401, "wrong keySecret"},
		{"malformed", "POST", "/token", `{`, 401, "wrong keySecret"},
		{"token by GET", "GET", "/token", "", 404, "POST /token"},
		{"health by POST", "POST", "/healthz", "", 404, "POST /token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Fatalf("%d %s, want %d with %s", resp.StatusCode, b, tc.status, tc.want)
			}
		})
	}
}
