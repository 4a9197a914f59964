package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	tcclient "github.com/taskcluster/taskcluster/v44/clients/client-go"

	"github.com/wfrun/wfrun/engine/server"
)

// TestTaskclusterSignedURLs: URLs signed by the real v44 Go client
// (Get_SignedURL, List_SignedURL, with permanent and temporary credentials)
// read what their signer may read until they expire; a bewit moved to
// another secret's URL, expired, used for a PUT, sent with an
// Authorization header too, or signed with the wrong token is 401.
func TestTaskclusterSignedURLs(t *testing.T) {
	cfg, err := server.ParseAuthConfig([]byte(tempCredsYAML), "test")
	if err != nil {
		t.Fatal(err)
	}
	offset := time.Duration(0)
	ts := newTestServer(t, server.WithAuth(cfg), server.WithClock(func() time.Time { return time.Now().Add(offset) }))
	issuer := &tcclient.Credentials{ClientID: "issuer", AccessToken: "issuer-token-0123456789"}
	future := time.Now().Add(time.Hour)
	for name, v := range map[string]string{"project/app/key": "bewit-value-1111", "other/key": "bewit-other-2222"} {
		if err := withCreds(ts, issuer).Set(name, tcSecret(t, map[string]string{"v": v}, future)); err != nil {
			t.Fatal(err)
		}
	}
	get := func(u string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	signed, err := withCreds(ts, issuer).Get_SignedURL("project/app/key", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st, body := get(signed.String()); st != 200 || !strings.Contains(body, "bewit-value-1111") {
		t.Fatalf("signed URL: %d %s", st, body)
	}
	list, err := withCreds(ts, issuer).List_SignedURL("", "10", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st, body := get(list.String()); st != 200 || !strings.Contains(body, "project/app/key") {
		t.Fatalf("signed list URL (bewit among other parameters): %d %s", st, body)
	}
	temp, err := issuer.CreateTemporaryCredentials(time.Hour, "secrets:get:project/*")
	if err != nil {
		t.Fatal(err)
	}
	tempURL, _ := withCreds(ts, temp).Get_SignedURL("project/app/key", time.Hour)
	if st, body := get(tempURL.String()); st != 200 || !strings.Contains(body, "bewit-value-1111") {
		t.Fatalf("URL signed with temporary credentials: %d %s", st, body)
	}
	tempOther, _ := withCreds(ts, temp).Get_SignedURL("other/key", time.Hour)
	if st, body := get(tempOther.String()); st != 403 || strings.Contains(body, "bewit-other-2222") {
		t.Errorf("URL signed for a secret outside the certificate: %d, want 403", st)
	}

	moved := *signed
	moved.Path, moved.RawPath = "/api/secrets/v1/secret/other/key", "/api/secrets/v1/secret/other%2Fkey"
	wrong := &tcclient.Credentials{ClientID: "issuer", AccessToken: "not-the-issuer-token-000"}
	wrongURL, _ := withCreds(ts, wrong).Get_SignedURL("project/app/key", time.Hour)
	for name, u := range map[string]string{
		"bewit moved to another secret": moved.String(),
		"wrong token":                   wrongURL.String(),
		"damaged bewit":                 strings.Replace(signed.String(), "bewit=", "bewit=x", 1),
	} {
		if st, body := get(u); st != 401 || strings.Contains(body, "bewit-") {
			t.Errorf("%s: %d %s, want 401", name, st, body)
		}
	}
	if st, _ := get(signed.String(), "Authorization", `Hawk id="issuer", ts="1", nonce="n", mac="m"`); st != 401 {
		t.Errorf("bewit and Authorization header: %d, want 401", st)
	}
	req, _ := http.NewRequest("PUT", signed.String(), strings.NewReader(`{"secret":{"v":"x"},"expires":"2099-01-01T00:00:00.000Z"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("PUT with a bewit: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	offset = 61 * time.Minute
	if st, _ := get(signed.String()); st != 401 {
		t.Errorf("expired bewit: %d, want 401", st)
	}
	offset = 0
	u, _ := url.Parse(signed.String())
	ts.assertNoLeak(t, "bewit-value-1111", "bewit-other-2222", "issuer-token-0123456789", u.Query().Get("bewit"))
}
