package server_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/store"
)

func secretsClient(ts *testServer, keyID, keySecret string) client.SecretsClient {
	var auth *settings.AuthenticationSettings
	if keyID != "" {
		auth = settings.NewAuthenticationSettings(keyID, keySecret)
	}
	api := client.NewAPIClient(auth, settings.NewHttpSettings(ts.URL+"/api"))
	return client.NewSecretsClient(api)
}

func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// TestOrkesSecretsGoSDK drives the Orkes secrets API with the Conductor Go
// SDK's secrets client, unmodified, with and without token auth.
func TestOrkesSecretsGoSDK(t *testing.T) {
	for _, tc := range []struct {
		name             string
		auth             bool
		keyID, keySecret string
	}{
		{name: "no auth"},
		{name: "token auth", auth: true, keyID: "app-all", keySecret: "app-all-secret-0123456789"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ts *testServer
			if tc.auth {
				ts = newTestServer(t, serverWithAuth(t))
			} else {
				ts = newTestServer(t)
			}
			sc := secretsClient(ts, tc.keyID, tc.keySecret)
			ctx := context.Background()
			const value = "s3cr3t-bearer-value-9f8e"
			if _, resp, err := sc.PutSecret(ctx, value, "api_token"); err != nil {
				t.Fatalf("PutSecret: %v (status %d)", err, status(resp))
			}
			got, resp, err := sc.GetSecret(ctx, "api_token")
			if err != nil || got != value {
				t.Fatalf("GetSecret = %q, %v (status %d), want the value", got, err, status(resp))
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("GetSecret Content-Type %q, want text/plain", ct)
			}
			ex, _, err := sc.SecretExists(ctx, "api_token")
			if err != nil || ex != true {
				t.Errorf("SecretExists(api_token) = %v, %v", ex, err)
			}
			ex, _, err = sc.SecretExists(ctx, "nope")
			if err != nil || ex != false {
				t.Errorf("SecretExists(nope) = %v, %v, want false", ex, err)
			}
			if _, _, err := sc.PutSecret(ctx, "second-value-1234", "other"); err != nil {
				t.Fatal(err)
			}
			names, _, err := sc.ListAllSecretNames(ctx)
			sort.Strings(names)
			if err != nil || strings.Join(names, ",") != "api_token,other" {
				t.Errorf("ListAllSecretNames = %v, %v", names, err)
			}
			if resp, err := sc.PutTagForSecret(ctx, []model.Tag{{Key: "env", Value: "prod", Type_: "METADATA"}, {Key: "team", Value: "core"}}, "api_token"); err != nil {
				t.Fatalf("PutTagForSecret: %v (status %d)", err, status(resp))
			}
			tags, _, err := sc.GetTags(ctx, "api_token")
			if err != nil || len(tags) != 2 || tags[0].Key != "env" || tags[0].Value != "prod" {
				t.Errorf("GetTags = %+v, %v", tags, err)
			}
			if _, err := sc.DeleteTagForSecret(ctx, []model.Tag{{Key: "team", Value: "core"}}, "api_token"); err != nil {
				t.Fatal(err)
			}
			withTags, _, err := sc.ListSecretsWithTagsThatUserCanGrantAccessTo(ctx)
			if err != nil || len(withTags) != 2 || withTags[0].Name != "api_token" || len(withTags[0].Tags) != 1 {
				t.Errorf("secrets-v2 = %+v, %v", withTags, err)
			}
			if _, resp, err := sc.DeleteSecret(ctx, "api_token"); err != nil {
				t.Fatalf("DeleteSecret: %v (status %d)", err, status(resp))
			}
			if _, resp, err := sc.GetSecret(ctx, "api_token"); err == nil || status(resp) != http.StatusNotFound {
				t.Errorf("GetSecret after delete: status %d, err %v; want 404", status(resp), err)
			}
			if _, resp, err := sc.DeleteSecret(ctx, "api_token"); err == nil || status(resp) != http.StatusNotFound {
				t.Errorf("DeleteSecret of a missing secret: status %d; want 404", status(resp))
			}
			if _, _, err := sc.ClearLocalCache(ctx); err != nil {
				t.Errorf("ClearLocalCache: %v", err)
			}
			ts.assertNoLeak(t, value, "second-value-1234", tc.keySecret)
		})
	}
}

// TestOrkesPutBodyEncodings: the JS SDK sends a JSON string literal, the CLI
// and the Go SDK the raw text, both as application/json; both round-trip.
func TestOrkesPutBodyEncodings(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct{ body, want string }{
		{`"quoted-value-1"`, "quoted-value-1"},
		{`raw-value-2`, "raw-value-2"},
		{`{"not":"json-decoded"}`, `{"not":"json-decoded"}`},
		{`"with \"escapes\" \n"`, "with \"escapes\" \n"},
		{`"unterminated`, `"unterminated`},
	} {
		if st, _, body := ts.do(t, "PUT", "/api/secrets/k", tc.body); st != 200 || body != "" {
			t.Fatalf("PUT %s: %d %q", tc.body, st, body)
		}
		st, ct, body := ts.do(t, "GET", "/api/secrets/k", "")
		if st != 200 || body != tc.want || !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("PUT %s then GET = %d %q %q, want %q", tc.body, st, ct, body, tc.want)
		}
	}
	// exists answers a JSON false, not a 404 (Orkes parity).
	if st, ct, body := ts.do(t, "GET", "/api/secrets/missing/exists", ""); st != 200 || body != "false" || ct != "application/json" {
		t.Errorf("exists(missing) = %d %q %q", st, ct, body)
	}
	if st, _, body := ts.do(t, "GET", "/api/secrets/bad%20name", ""); st != 400 || !strings.Contains(body, `"status":400`) {
		t.Errorf("bad name: %d %s", st, body)
	}
	// No auth configured: /api/token is 404, which the SDKs read as "OSS, no auth".
	if st, _, _ := ts.do(t, "POST", "/api/token", `{"keyId":"a","keySecret":"b"}`); st != 404 {
		t.Errorf("/api/token without auth: %d, want 404", st)
	}
	// Bytes that are not UTF-8 are refused, not silently altered.
	if st, _, body := ts.do(t, "PUT", "/api/secrets/bin", "\xff\xfe binary"); st != 400 || !strings.Contains(body, "UTF-8") {
		t.Errorf("binary value: %d %s", st, body)
	}
	// Oversize values are refused with a reason, not stored.
	big := strings.Repeat("x", 70<<10)
	if st, _, body := ts.do(t, "PUT", "/api/secrets/big", big); st != 413 && st != 400 {
		t.Errorf("oversize value: %d %s", st, body)
	}
	ts.assertNoLeak(t, "quoted-value-1", "raw-value-2")
}

// TestOrkesTokenAuth: wrong secrets, forged and missing tokens get 401 with
// the error the SDKs look for; scopes narrow what a key can do.
func TestOrkesTokenAuth(t *testing.T) {
	ts := newTestServer(t, serverWithAuth(t))
	ctx := context.Background()
	if st, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"app-all","keySecret":"wrong-secret-000000000"}`); st != 401 || strings.Contains(body, "token\":") {
		t.Errorf("wrong secret: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/token", `{"keyId":`); st != 400 {
		t.Errorf("malformed token request: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "GET", "/api/secrets/x", ""); st != 401 || !strings.Contains(body, "INVALID_TOKEN") {
		t.Errorf("no token: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "GET", "/api/secrets/x", "", "X-Authorization", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA"); st != 401 || !strings.Contains(body, "INVALID_TOKEN") {
		t.Errorf("forged token: %d %s", st, body)
	}
	// A client with the wrong key secret gets no token; its calls are refused.
	bad := secretsClient(ts, "app-all", "wrong-secret-000000000")
	if _, resp, err := bad.GetSecret(ctx, "x"); err == nil || status(resp) != 401 {
		t.Errorf("GetSecret with a wrong key secret: %d %v", status(resp), err)
	}
	admin := secretsClient(ts, "app-all", "app-all-secret-0123456789")
	if _, _, err := admin.PutSecret(ctx, "shared-value-777", "shared_db"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := admin.PutSecret(ctx, "private-value-888", "private_db"); err != nil {
		t.Fatal(err)
	}
	reader := secretsClient(ts, "app-reader", "app-reader-secret-0123456789")
	if v, _, err := reader.GetSecret(ctx, "shared_db"); err != nil || v != "shared-value-777" {
		t.Errorf("reader GetSecret(shared_db) = %q, %v", v, err)
	}
	for _, name := range []string{"private_db", "private_none"} {
		_, resp, err := reader.GetSecret(ctx, name)
		var se client.GenericSwaggerError
		if status(resp) != 403 || !errors.As(err, &se) {
			t.Errorf("reader GetSecret(%s): %d %v, want 403 whether or not it exists", name, status(resp), err)
		}
	}
	if _, resp, _ := reader.PutSecret(ctx, "overwrite-attempt", "shared_db"); status(resp) != 403 {
		t.Errorf("reader PutSecret: %d, want 403", status(resp))
	}
	if _, resp, _ := reader.ListAllSecretNames(ctx); status(resp) != 403 {
		t.Errorf("reader list: %d, want 403", status(resp))
	}
	ts.assertNoLeak(t, "shared-value-777", "private-value-888", "app-all-secret-0123456789", "app-reader-secret-0123456789", "wrong-secret-000000000")
	// The same audit trail as the CLI's, with the application's principal.
	aud, ok := store.AuditorOf(ts.store)
	if !ok {
		t.Fatal("the store keeps no audit trail")
	}
	evs, err := aud.ReadAudit(ctx, store.AuditFilter{Name: "private_db"})
	if err != nil {
		t.Fatal(err)
	}
	var denied, set bool
	for _, e := range evs {
		denied = denied || (e.Principal == "app-reader" && e.Op == store.OpGet && e.Outcome == store.OutcomeDenied)
		set = set || (e.Principal == "app-all" && e.Op == store.OpSet && e.Outcome == store.OutcomeAllowed)
	}
	if !denied || !set {
		t.Errorf("audit of private_db lacks the reader's denial or the admin's set: %+v", evs)
	}
}
