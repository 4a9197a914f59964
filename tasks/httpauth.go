package tasks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wfrun/wfrun/store"
)

// Auth types accepted in an HTTP task's "auth" input.
const (
	AuthBearer = "bearer"
	AuthBasic  = "basic"
	AuthSigV4  = "aws-sigv4"
)

// ErrBadAuth is wrapped by every error about an "auth" input or the shape
// of the secret it names (as opposed to store errors such as
// store.ErrNotFound, which ApplyAuth wraps unchanged).
var ErrBadAuth = errors.New("invalid HTTP auth")

// Auth is the HTTP task's "auth" input. It names a secret; the credential
// itself never appears in the task's input, output or definition.
//
//	{"type":"bearer","secret":"NAME"}     a string secret, or a JSON secret with "token"
//	{"type":"basic","secret":"NAME"}      a JSON secret with "user" (or "username") and "password"
//	{"type":"aws-sigv4","secret":"AWS_CREDENTIALS","region":"eu-west-1","service":"execute-api"}
//	                                      a JSON secret in Prefect's AWS_CREDENTIALS shape:
//	                                      ACCESS_KEY, SECRET_ACCESS_KEY, optional SESSION_TOKEN
type Auth struct {
	Type    string `json:"type"`
	Secret  string `json:"secret"`
	Region  string `json:"region,omitempty"`
	Service string `json:"service,omitempty"`
}

// ParseAuth decodes and checks an "auth" input. A blank or null input is
// (nil, nil): no authentication.
func ParseAuth(raw json.RawMessage) (*Auth, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if err := exactMembers(t, "auth", "type", "secret", "region", "service"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAuth, err)
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	var a Auth
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: auth must be an object {type, secret[, region, service]}: %v", ErrBadAuth, err)
	}
	if a.Secret == "" {
		return nil, fmt.Errorf("%w: auth.secret (the secret's name) is required", ErrBadAuth)
	}
	switch a.Type {
	case AuthBearer, AuthBasic:
		if a.Region != "" || a.Service != "" {
			return nil, fmt.Errorf("%w: auth.region and auth.service apply to %s only", ErrBadAuth, AuthSigV4)
		}
	case AuthSigV4:
		if a.Region == "" || a.Service == "" {
			return nil, fmt.Errorf("%w: auth type %s needs auth.region and auth.service", ErrBadAuth, AuthSigV4)
		}
	case "":
		return nil, fmt.Errorf("%w: auth.type is required (%s, %s or %s)", ErrBadAuth, AuthBearer, AuthBasic, AuthSigV4)
	default:
		return nil, fmt.Errorf("%w: auth.type %q is not one of %s, %s, %s", ErrBadAuth, a.Type, AuthBearer, AuthBasic, AuthSigV4)
	}
	return &a, nil
}

// ApplyAuth authenticates req with the credential named by auth (see Auth),
// fetched through svc.Secrets as the run's principal. body is the request
// body exactly as it will be sent (SigV4 signs its hash). Call it last,
// after every other header is set: SigV4 signs the headers present.
//
// Every credential it resolves is registered with svc.Masker before it is
// used, so a server echoing the Authorization header back is masked in the
// task's output. Errors name the secret, never its value; a missing or
// forbidden secret wraps the store's error (errors.Is store.ErrNotFound, ...).
func ApplyAuth(ctx context.Context, req *http.Request, body []byte, auth json.RawMessage, svc *Services) error {
	return applyAuthAt(ctx, req, body, auth, svc, time.Now())
}

func applyAuthAt(ctx context.Context, req *http.Request, body []byte, auth json.RawMessage, svc *Services, now time.Time) error {
	a, err := ParseAuth(auth)
	if err != nil || a == nil {
		return err
	}
	if svc == nil || svc.Secrets == nil {
		return fmt.Errorf("auth %s: secret %q: the run has no secret store", a.Type, a.Secret)
	}
	raw, err := svc.Secrets.Secret(ctx, a.Secret)
	if err != nil {
		return fmt.Errorf("auth %s: %w", a.Type, err)
	}
	// Register the whole value first (the masker adds a JSON value's string
	// leaves), so nothing below can leak an unregistered credential.
	registerValue(svc.Masker, raw)
	switch a.Type {
	case AuthBearer:
		tok, err := bearerToken(a.Secret, raw)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case AuthBasic:
		user, pass, err := basicCredentials(a.Secret, raw)
		if err != nil {
			return err
		}
		// "user:password" is what base64 encodes in the header; registering
		// it lets the masker derive that base64 form too.
		if svc.Masker != nil {
			svc.Masker.Register(user + ":" + pass)
		}
		req.SetBasicAuth(user, pass)
	case AuthSigV4:
		creds, err := awsCredentials(a.Secret, raw)
		if err != nil {
			return err
		}
		if err := signSigV4(ctx, req, body, creds, a.Region, a.Service, now); err != nil {
			return fmt.Errorf("auth %s: secret %q: signing failed: %w", a.Type, a.Secret, err)
		}
	}
	return nil
}

// AuthStatus is the task status for an ApplyAuth error: Failed (the engine
// may retry) when the secret backend was unavailable or the call was
// cancelled, FailedTerminal otherwise (a missing, forbidden or malformed
// credential will not fix itself between retries).
func AuthStatus(ctx context.Context, err error) Status {
	if errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil {
		return Failed
	}
	return FailedTerminal
}

func shapeError(typ, name, want string) error {
	return fmt.Errorf("%w: auth %s: secret %q must be %s", ErrBadAuth, typ, name, want)
}

// bearerToken accepts a JSON string or an object with a string "token".
func bearerToken(name string, raw []byte) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", shapeError(AuthBearer, name, "valid JSON")
	}
	switch x := v.(type) {
	case string:
		if x != "" {
			return x, nil
		}
	case map[string]any:
		if s, ok := x["token"].(string); ok && s != "" {
			return s, nil
		}
	}
	return "", shapeError(AuthBearer, name, `a non-empty string or an object with a string "token"`)
}

func basicCredentials(name string, raw []byte) (user, pass string, err error) {
	var v struct {
		User     *string `json:"user"`
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return "", "", shapeError(AuthBasic, name, `an object with "user" (or "username") and "password"`)
	}
	switch {
	case v.User != nil:
		user = *v.User
	case v.Username != nil:
		user = *v.Username
	}
	if user == "" || v.Password == nil || *v.Password == "" {
		return "", "", shapeError(AuthBasic, name, `an object with non-empty "user" (or "username") and "password"`)
	}
	if strings.Contains(user, ":") {
		return "", "", shapeError(AuthBasic, name, `an object whose "user" has no ':' (RFC 7617)`)
	}
	return user, *v.Password, nil
}

// awsCredentials reads Prefect's AWS_CREDENTIALS shape.
func awsCredentials(name string, raw []byte) (aws.Credentials, error) {
	var v struct {
		AccessKey    string `json:"ACCESS_KEY"`
		SecretKey    string `json:"SECRET_ACCESS_KEY"`
		SessionToken string `json:"SESSION_TOKEN"`
	}
	if json.Unmarshal(raw, &v) != nil || v.AccessKey == "" || v.SecretKey == "" {
		return aws.Credentials{}, shapeError(AuthSigV4, name, `an object with "ACCESS_KEY" and "SECRET_ACCESS_KEY" (and optionally "SESSION_TOKEN")`)
	}
	return aws.Credentials{AccessKeyID: v.AccessKey, SecretAccessKey: v.SecretKey, SessionToken: v.SessionToken, Source: "wfrun secret"}, nil
}

// signSigV4 signs req with AWS Signature Version 4 using the AWS SDK's
// signer. S3 is the one service whose canonical path is not escaped a
// second time and which wants the payload hash as a header.
func signSigV4(ctx context.Context, req *http.Request, body []byte, creds aws.Credentials, region, service string, now time.Time) error {
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	s3 := service == "s3"
	if s3 {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	return v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, service, region, now,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s3 })
}

// exactMembers refuses a member of the JSON object raw (what) spelled in
// another letter case than one of names. encoding/json would match it
// anyway, and the load-time rules that keep run input from choosing a
// secret (the engine's, the worker's) read members by their exact names: a
// "Secret" taken for "secret" would be a name no rule checked. Anything
// that is not an object is left to the decoder.
func exactMembers(raw []byte, what string, names ...string) error {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	for k := range m {
		for _, n := range names {
			if k != n && strings.EqualFold(k, n) {
				return fmt.Errorf("%s: member %q must be spelled %q", what, k, n)
			}
		}
	}
	return nil
}
