package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/store"
)

// Taskcluster temporary credentials
// (docs.taskcluster.net, manual/design/apis/hawk/temporary-credentials): a
// configured client signs a certificate naming a subset of its scopes and a
// validity window; the holder signs requests with an access token derived
// from the client's and the certificate's seed, and sends the certificate
// in the Hawk ext. A named certificate also gives the credentials a client
// id of their own, which the issuer must be allowed to create.

// ErrHawkCertificate: temporary credentials whose certificate does not
// hold (401, like every Hawk failure).
var ErrHawkCertificate = errors.New("invalid temporary credentials certificate")

const (
	certSkew   = 5 * time.Minute     // Taskcluster's allowance on start and expiry
	certMaxAge = 31 * 24 * time.Hour // the longest a certificate may last
	certSeed   = 44                  // characters in a certificate's seed
)

// certificate is the certificate in a Hawk ext. Numbers and strings are
// checked for their JSON type, as Taskcluster checks them.
type certificate struct {
	Version   json.RawMessage `json:"version"`
	Scopes    json.RawMessage `json:"scopes"`
	Start     json.RawMessage `json:"start"`
	Expiry    json.RawMessage `json:"expiry"`
	Seed      json.RawMessage `json:"seed"`
	Signature json.RawMessage `json:"signature"`
	Issuer    json.RawMessage `json:"issuer"`
	ClientID  json.RawMessage `json:"clientId"`
}

func hasCertificate(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}

func certErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrHawkCertificate}, args...)...)
}

// certificateIssuer returns the client whose access token signs the
// request: the certificate's issuer for a named temporary credential,
// else the Hawk id itself.
func certificateIssuer(raw json.RawMessage, id string) (string, error) {
	if !hasCertificate(raw) {
		return id, nil
	}
	var c certificate
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", certErr("ext.certificate must be a JSON object")
	}
	if !hasCertificate(c.Issuer) {
		return id, nil
	}
	var issuer string
	if json.Unmarshal(c.Issuer, &issuer) != nil {
		return "", certErr("ext.certificate.issuer must be a string")
	}
	if issuer == id {
		return "", certErr("ext.certificate.issuer must differ from the client id %q", id)
	}
	return issuer, nil
}

// openCertificate checks a certificate issued by issuer (holding p, signed
// with key) for the credential id, and returns the principal the temporary
// credentials stand for and the access token their requests are signed
// with.
func openCertificate(raw json.RawMessage, id, issuer string, p store.Principal, key string, now time.Time) (store.Principal, string, error) {
	var c certificate
	if err := json.Unmarshal(raw, &c); err != nil {
		return p, "", certErr("ext.certificate must be a JSON object")
	}
	if string(bytes.TrimSpace(c.Version)) != "1" {
		return p, "", certErr("ext.certificate.version must be 1")
	}
	var seed string
	if json.Unmarshal(c.Seed, &seed) != nil {
		return p, "", certErr("ext.certificate.seed must be a string")
	}
	if len(seed) != certSeed {
		return p, "", certErr("ext.certificate.seed must be %d characters", certSeed)
	}
	start, err := certMillis(c.Start)
	if err != nil {
		return p, "", certErr("ext.certificate.start must be a number")
	}
	expiry, err := certMillis(c.Expiry)
	if err != nil {
		return p, "", certErr("ext.certificate.expiry must be a number")
	}
	var scopes []string
	if json.Unmarshal(c.Scopes, &scopes) != nil || scopes == nil {
		return p, "", certErr("ext.certificate.scopes must be an array of strings")
	}
	for _, sc := range scopes {
		if !validScope(sc) {
			return p, "", certErr("ext.certificate.scopes must be printable ASCII scopes")
		}
	}
	ms := now.UnixMilli()
	if start > ms+certSkew.Milliseconds() {
		return p, "", certErr("the certificate starts in the future")
	}
	if expiry < ms-certSkew.Milliseconds() {
		return p, "", certErr("the certificate expired")
	}
	if expiry-start > certMaxAge.Milliseconds() {
		return p, "", certErr("a certificate cannot last longer than 31 days")
	}
	if issuer != id {
		if create := "auth:create-client:" + id; !p.Satisfies(create) {
			return p, "", certErr("the issuer %q lacks %s", issuer, create)
		}
	} else if len(c.ClientID) > 0 { // present at all, even null, as Taskcluster checks it
		return p, "", certErr("ext.certificate.clientId is only for a certificate with an issuer")
	}
	for _, sc := range scopes {
		if !p.Satisfies(sc) {
			return p, "", certErr("the issuer %q does not hold the certificate's scope %q", issuer, sc)
		}
	}
	lines := []string{"version:1"}
	if issuer != id {
		lines = append(lines, "clientId:"+id, "issuer:"+issuer)
	}
	lines = append(lines, "seed:"+seed, "start:"+strconv.FormatInt(start, 10), "expiry:"+strconv.FormatInt(expiry, 10), "scopes:")
	lines = append(lines, scopes...)
	sig := hmac.New(sha256.New, []byte(key))
	sig.Write([]byte(strings.Join(lines, "\n")))
	var signature string
	if json.Unmarshal(c.Signature, &signature) != nil ||
		!hmac.Equal([]byte(signature), []byte(base64.StdEncoding.EncodeToString(sig.Sum(nil)))) {
		return p, "", certErr("the certificate's signature is not valid (or the client id is wrong)")
	}
	tmp := hmac.New(sha256.New, []byte(key))
	tmp.Write([]byte(seed))
	name := p.Name
	if issuer != id {
		name = id
	}
	return store.Principal{Name: name, Scopes: scopes}, base64.RawURLEncoding.EncodeToString(tmp.Sum(nil)), nil
}

// certMillis reads a JSON number (not a string) of milliseconds.
func certMillis(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, errors.New("not a number")
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	return strconv.ParseInt(n.String(), 10, 64)
}

// validScope: Taskcluster scopes are printable ASCII.
func validScope(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
