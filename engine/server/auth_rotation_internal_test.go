package server

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// A token is issued for the key secret it was asked with: once the
// application's keySecret is replaced (the configuration changed, the
// server restarted with the same tokenKey), tokens issued before are
// refused; with the secret unchanged they outlive the restart.
func TestTokensEndWithTheirKeySecret(t *testing.T) {
	const conf = `tokenKey: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
applications:
  - keyId: app1
    keySecret: "%s"
    scopes: ["*"]
`
	load := func(secret string) *AuthConfig {
		t.Helper()
		c, err := ParseAuthConfig([]byte(fmt.Sprintf(conf, secret)), "test")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := time.Now()
	before := load("old-secret-0123456789")
	tok, _, err := before.login("app1", "old-secret-0123456789", now)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := load("old-secret-0123456789").verify(tok, now); err != nil || p.Name != "app1" {
		t.Fatalf("same secret after a restart: %v %v", p, err)
	}
	if _, err := load("new-secret-9876543210").verify(tok, now); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of the replaced secret: %v", err)
	}
}
