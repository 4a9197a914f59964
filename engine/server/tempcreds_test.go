package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	tcclient "github.com/taskcluster/taskcluster/v44/clients/client-go"
	"github.com/taskcluster/taskcluster/v44/clients/client-go/tcsecrets"

	"github.com/wfrun/wfrun/engine/server"
)

const tempCredsYAML = `
taskclusterClients:
  - clientId: issuer
    accessToken: issuer-token-0123456789
    scopes: ["secrets:*", "auth:create-client:task-*"]
  - clientId: plain
    accessToken: plain-token-0123456789
    scopes: ["secrets:get:project/*"]
`

// withCreds is a tcsecrets client of ts signing with creds.
func withCreds(ts *testServer, creds *tcclient.Credentials) *tcsecrets.Secrets {
	c := tcClient(ts, "x", "y")
	c.Credentials = creds
	return c
}

// TestTaskclusterTemporaryCredentials: temporary credentials made by the
// real v44 Go client (CreateTemporaryCredentials,
// CreateNamedTemporaryCredentials) are taken as Taskcluster's auth service
// takes them: they hold the certificate's scopes only; a named one needs
// the issuer's auth:create-client scope; a certificate the issuer could
// not sign (a scope it lacks, an edited scope list, expired, longer than
// 31 days) or the wrong access token is 401.
func TestTaskclusterTemporaryCredentials(t *testing.T) {
	cfg, err := server.ParseAuthConfig([]byte(tempCredsYAML), "test")
	if err != nil {
		t.Fatal(err)
	}
	offset := time.Duration(0)
	ts := newTestServer(t, server.WithAuth(cfg), server.WithClock(func() time.Time { return time.Now().Add(offset) }))
	issuer := &tcclient.Credentials{ClientID: "issuer", AccessToken: "issuer-token-0123456789"}
	future := time.Now().Add(time.Hour)
	if err := withCreds(ts, issuer).Set("project/app/key", tcSecret(t, map[string]string{"v": "temp-value-8080"}, future)); err != nil {
		t.Fatal(err)
	}
	if err := withCreds(ts, issuer).Set("other/key", tcSecret(t, map[string]string{"v": "other-value-9090"}, future)); err != nil {
		t.Fatal(err)
	}

	temp, err := issuer.CreateTemporaryCredentials(time.Hour, "secrets:get:project/*")
	if err != nil {
		t.Fatal(err)
	}
	c := withCreds(ts, temp)
	if got, err := c.Get("project/app/key"); err != nil || !strings.Contains(string(got.Secret), "temp-value-8080") {
		t.Fatalf("temporary credentials Get: %v", err)
	}
	if _, err := c.Get("other/key"); tcStatus(err) != 403 {
		t.Errorf("temporary credentials outside their scopes: status %d, want 403", tcStatus(err))
	}
	if err := c.Set("project/app/key", tcSecret(t, map[string]string{"v": "x"}, future)); tcStatus(err) != 403 {
		t.Errorf("temporary credentials Set: status %d, want 403 (the certificate grants get only)", tcStatus(err))
	}

	named, err := issuer.CreateNamedTemporaryCredentials("task-42", time.Hour, "secrets:get:project/*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withCreds(ts, named).Get("project/app/key"); err != nil {
		t.Fatalf("named temporary credentials Get: %v", err)
	}
	if !strings.Contains(ts.logs.String(), `"task-42"`) {
		t.Errorf("the request log does not name the temporary client task-42")
	}

	plain := &tcclient.Credentials{ClientID: "plain", AccessToken: "plain-token-0123456789"}
	namedByPlain, _ := plain.CreateNamedTemporaryCredentials("task-43", time.Hour, "secrets:get:project/*")
	widerThanPlain, _ := plain.CreateTemporaryCredentials(time.Hour, "secrets:get:*")
	notCreatable, _ := issuer.CreateNamedTemporaryCredentials("other-44", time.Hour, "secrets:get:project/*")
	edited := *temp
	edited.Certificate = strings.Replace(temp.Certificate, `"secrets:get:project/*"`, `"secrets:*"`, 1)
	wrongToken := *temp
	wrongToken.AccessToken = issuer.AccessToken
	long := handMadeCert(t, issuer, time.Now(), time.Now().Add(40*24*time.Hour), "secrets:get:project/*")
	for name, creds := range map[string]*tcclient.Credentials{
		"named by a client without auth:create-client":  namedByPlain,
		"a scope the issuer lacks":                      widerThanPlain,
		"a client id outside the issuer's create scope": notCreatable,
		"scopes edited after signing":                   &edited,
		"the issuer's token instead of the derived one": &wrongToken,
		"longer than 31 days":                           long,
	} {
		if _, err := withCreds(ts, creds).Get("project/app/key"); tcStatus(err) != 401 {
			t.Errorf("%s: status %d, want 401", name, tcStatus(err))
		}
	}
	// Expired: the certificate lasted a minute; the server clock is 7 past it.
	short, _ := issuer.CreateTemporaryCredentials(time.Minute, "secrets:get:project/*")
	offset = 8 * time.Minute
	if _, err := withCreds(ts, short).Get("project/app/key"); tcStatus(err) != 401 {
		t.Errorf("expired certificate: status %d, want 401", tcStatus(err))
	}
	offset = 0
	// authorizedScopes beyond what the credentials hold is refused, not narrowed silently.
	over := *temp
	over.AuthorizedScopes = []string{"secrets:get:other/*"}
	if _, err := withCreds(ts, &over).Get("other/key"); tcStatus(err) != 401 {
		t.Errorf("authorizedScopes beyond the certificate: status %d, want 401", tcStatus(err))
	}
	narrowed := *temp
	narrowed.AuthorizedScopes = []string{"secrets:get:project/app/key"}
	if _, err := withCreds(ts, &narrowed).Get("project/app/key"); err != nil {
		t.Errorf("authorizedScopes within the certificate: %v", err)
	}
	ts.assertNoLeak(t, "temp-value-8080", "other-value-9090", "issuer-token-0123456789", temp.AccessToken)
}

// handMadeCert signs a certificate as the client does, for windows the
// client refuses to make.
func handMadeCert(t *testing.T, perm *tcclient.Credentials, start, expiry time.Time, scopes ...string) *tcclient.Credentials {
	t.Helper()
	cert := &tcclient.Certificate{Version: 1, Scopes: scopes, Start: start.UnixMilli(), Expiry: expiry.UnixMilli(),
		Seed: strings.Repeat("s", 44)}
	if err := cert.Sign(perm.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cert)
	mac := hmac.New(sha256.New, []byte(perm.AccessToken))
	mac.Write([]byte(cert.Seed))
	return &tcclient.Credentials{ClientID: perm.ClientID, AccessToken: base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), Certificate: string(b)}
}
