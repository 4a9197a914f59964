package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store"
)

// A certificate without an issuer that names a clientId — even null — is
// refused, as Taskcluster refuses any clientId member there. (The
// Taskcluster client drops unknown members when it signs, so this is
// checked here rather than through it.)
func TestCertificateClientIDNeedsIssuer(t *testing.T) {
	const key = "issuer-token-0123456789"
	now := time.Now()
	seed := strings.Repeat("s", certSeed)
	start, expiry := strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(now.Add(time.Hour).UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("version:1\nseed:" + seed + "\nstart:" + start + "\nexpiry:" + expiry + "\nscopes:\nsecrets:get:a"))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	p := store.Principal{Name: "issuer", Scopes: []string{"secrets:*"}}
	cert := func(extra string) []byte {
		return []byte(`{` + extra + `"version":1,"scopes":["secrets:get:a"],"start":` + start + `,"expiry":` + expiry +
			`,"seed":"` + seed + `","signature":"` + sig + `"}`)
	}
	if _, _, err := openCertificate(cert(""), "issuer", "issuer", p, key, now); err != nil {
		t.Fatalf("the certificate itself: %v", err)
	}
	for _, extra := range []string{`"clientId":null,`, `"clientId":"issuer",`} {
		if _, _, err := openCertificate(cert(extra), "issuer", "issuer", p, key, now); !errors.Is(err, ErrHawkCertificate) {
			t.Errorf("%s without an issuer: %v, want ErrHawkCertificate", extra, err)
		}
	}
}
