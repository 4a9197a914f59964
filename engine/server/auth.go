package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wfrun/wfrun/store"
)

// Scope prefixes of the Conductor API (see AuthConfig); each is followed
// by a workflow or definition name.
const (
	ScopeWorkflowStart  = "workflows:start:"
	ScopeWorkflowRead   = "workflows:read:"
	ScopeWorkflowManage = "workflows:manage:"
	ScopeMetadataWrite  = "metadata:write:"
)

// Principal names the configuration may not give: "anonymous" is every
// caller without credentials, "local" the CLI's principal (it owns the
// runs the CLI starts in a shared run store).
var reservedPrincipals = map[string]bool{"anonymous": true, store.LocalPrincipal.Name: true}

// Sentinel errors of authentication.
var (
	// ErrInvalidToken: a missing, malformed, forged or unknown X-Authorization token.
	ErrInvalidToken = errors.New("invalid token")
	// ErrExpiredToken: a well-signed token past its exp.
	ErrExpiredToken = errors.New("expired token")
	// ErrBadCredentials: an unknown key id or a wrong key secret.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrAuthConfig: the auth configuration file is unusable.
	ErrAuthConfig = errors.New("invalid auth configuration")
)

// AuthConfig is the content of `wfrun serve --auth FILE` (YAML or JSON).
//
//	tokenKey: base64 of at least 32 random bytes (signs JWTs; share it between
//	          serve processes; random per process when absent). A token
//	          holds only for the keySecret it was issued with: replacing
//	          an application's keySecret ends its tokens.
//	tokenTTL: 1h
//	applications:               # Orkes application keys
//	  - keyId: ci
//	    keySecret: "…"
//	    principal: ci           # default: the keyId
//	    scopes: ["secrets:get:deploy/*", "secrets:list-secrets",
//	             "workflows:start:deploy_*", "tasks:poll:deploy_*"]
//	taskclusterClients:         # Taskcluster clients (Hawk)
//	  - clientId: tc-ci
//	    accessToken: "…"
//	    scopes: ["secrets:get:project/*"]
//	anonymousScopes: []         # scopes of requests without credentials
//
// Scopes (Taskcluster style: a scope ending in "*" grants every scope it
// is a prefix of; "*" grants everything):
//
//	secrets:get:<name>, secrets:set:<name>, secrets:list-secrets   secrets
//	tasks:poll:<task>              poll and update tasks of that name, read
//	                               its queues, requeue its pending tasks
//	tasks:read:<task>              read its queues: sizes, the tasks workers
//	                               hold, poll data (which worker, when)
//	workflows:start:<workflow>     start a run of that workflow
//	workflows:read:<workflow>      read its runs (execution, status, search)
//	workflows:manage:<workflow>    change its runs: terminate, pause, resume,
//	                               restart, retry, rerun, skip a task, reset
//	                               callbacks, signal, complete a task by
//	                               reference
//	metadata:write:<name>          register, update or delete the workflow
//	                               or task definition of that name
//
// Reading definitions needs no scope. The principal that started a run
// may read and manage it without workflows:read or workflows:manage (the
// anonymous principal owns nothing: it is everyone without credentials).
// A run executes as the principal that started it, also when another
// principal restarts, retries or reruns it (with new input too): give
// workflows:manage:<workflow> only to principals trusted with the
// secrets of every run of that workflow, and metadata:write:<name> only
// to principals trusted with the secrets of every run that uses the
// definition (as a workflow, a sub-workflow, a failure workflow, a
// START_WORKFLOW target or a task). workflows:start is checked on the
// API's start requests: a run's sub-workflows and START_WORKFLOW tasks
// start their workflows as the run's principal without it, and each is a
// run of its own workflow (read and managed under that workflow's name,
// or by the principal that owns it).
type AuthConfig struct {
	TokenKey        string         `yaml:"tokenKey" json:"tokenKey"`
	TokenTTL        string         `yaml:"tokenTTL" json:"tokenTTL"`
	Applications    []Application  `yaml:"applications" json:"applications"`
	TaskclusterKeys []TCClient     `yaml:"taskclusterClients" json:"taskclusterClients"`
	AnonymousScopes []string       `yaml:"anonymousScopes" json:"anonymousScopes"`
	ttl             time.Duration  // parsed TokenTTL
	key             []byte         // decoded TokenKey
	apps            map[string]int // keyId → index
	marks           []string       // by application: secretMark of its keySecret
	tc              map[string]int // clientId → index
}

// Application is an Orkes application key.
type Application struct {
	KeyID     string   `yaml:"keyId" json:"keyId"`
	KeySecret string   `yaml:"keySecret" json:"keySecret"`
	Principal string   `yaml:"principal" json:"principal"`
	Scopes    []string `yaml:"scopes" json:"scopes"`
}

// TCClient is a Taskcluster client (permanent credentials).
type TCClient struct {
	ClientID    string   `yaml:"clientId" json:"clientId"`
	AccessToken string   `yaml:"accessToken" json:"accessToken"`
	Principal   string   `yaml:"principal" json:"principal"`
	Scopes      []string `yaml:"scopes" json:"scopes"`
}

// LoadAuthConfig reads and checks an auth configuration file.
func LoadAuthConfig(path string) (*AuthConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuthConfig, err)
	}
	return ParseAuthConfig(b, path)
}

// ParseAuthConfig parses an auth configuration (YAML or JSON); name is used
// in errors. Errors never quote a key secret or access token.
func ParseAuthConfig(b []byte, name string) (*AuthConfig, error) {
	var c AuthConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		// yaml errors quote lines, which may hold a key secret: keep only the line number.
		return nil, fmt.Errorf("%w: %s: %s", ErrAuthConfig, name, yamlErrorLine(err))
	}
	if err := c.init(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrAuthConfig, name, err)
	}
	return &c, nil
}

func yamlErrorLine(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		end := i + 5
		for end < len(msg) && msg[end] >= '0' && msg[end] <= '9' {
			end++
		}
		return "syntax error at " + msg[i:end]
	}
	return "not valid YAML or JSON"
}

func (c *AuthConfig) init() error {
	c.ttl = time.Hour
	if c.TokenTTL != "" {
		d, err := time.ParseDuration(c.TokenTTL)
		if err != nil || d <= 0 {
			return fmt.Errorf("tokenTTL %q: want a positive duration such as 1h", c.TokenTTL)
		}
		c.ttl = d
	}
	if c.TokenKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.TokenKey)
		if err != nil || len(k) < 32 {
			return errors.New("tokenKey: want the base64 of at least 32 random bytes")
		}
		c.key = k
	} else {
		c.key = make([]byte, 32)
		if _, err := rand.Read(c.key); err != nil {
			return err
		}
	}
	c.apps, c.tc = map[string]int{}, map[string]int{}
	for i, a := range c.Applications {
		switch {
		case a.KeyID == "":
			return fmt.Errorf("applications[%d]: keyId is empty", i)
		case len(a.KeySecret) < 16:
			return fmt.Errorf("applications[%d] (%s): keySecret must be at least 16 characters", i, a.KeyID)
		}
		if _, dup := c.apps[a.KeyID]; dup {
			return fmt.Errorf("applications[%d]: duplicate keyId %q", i, a.KeyID)
		}
		if name := a.principal().Name; reservedPrincipals[name] {
			return fmt.Errorf("applications[%d] (%s): principal %q is reserved", i, a.KeyID, name)
		}
		c.apps[a.KeyID] = i
		c.marks = append(c.marks, c.secretMark(a.KeySecret))
	}
	for i, t := range c.TaskclusterKeys {
		switch {
		case t.ClientID == "":
			return fmt.Errorf("taskclusterClients[%d]: clientId is empty", i)
		case len(t.AccessToken) < 16:
			return fmt.Errorf("taskclusterClients[%d] (%s): accessToken must be at least 16 characters", i, t.ClientID)
		}
		if _, dup := c.tc[t.ClientID]; dup {
			return fmt.Errorf("taskclusterClients[%d]: duplicate clientId %q", i, t.ClientID)
		}
		if name := t.principal().Name; reservedPrincipals[name] {
			return fmt.Errorf("taskclusterClients[%d] (%s): principal %q is reserved", i, t.ClientID, name)
		}
		c.tc[t.ClientID] = i
	}
	return nil
}

// credentials returns every key secret and access token, so the server's
// masker never lets one into a log line.
func (c *AuthConfig) credentials() []string {
	var out []string
	for _, a := range c.Applications {
		out = append(out, a.KeySecret)
	}
	for _, t := range c.TaskclusterKeys {
		out = append(out, t.AccessToken)
	}
	return out
}

func (c *AuthConfig) anonymous() store.Principal {
	return store.Principal{Name: "anonymous", Scopes: append([]string(nil), c.AnonymousScopes...)}
}

func (a Application) principal() store.Principal {
	name := a.Principal
	if name == "" {
		name = a.KeyID
	}
	return store.Principal{Name: name, Scopes: append([]string(nil), a.Scopes...)}
}

func (t TCClient) principal() store.Principal {
	name := t.Principal
	if name == "" {
		name = t.ClientID
	}
	return store.Principal{Name: name, Scopes: append([]string(nil), t.Scopes...)}
}

// login checks an application key and returns a signed token and its expiry.
func (c *AuthConfig) login(keyID, keySecret string, now time.Time) (string, time.Time, error) {
	i, ok := c.apps[keyID]
	want := "\x00no such key\x00"
	if ok {
		want = c.Applications[i].KeySecret
	}
	// Compare even for an unknown key id, so timing does not tell which ids exist.
	if subtle.ConstantTimeCompare([]byte(keySecret), []byte(want)) != 1 || !ok {
		return "", time.Time{}, ErrBadCredentials
	}
	exp := now.Add(c.ttl)
	return c.sign(jwtClaims{Sub: keyID, Iat: now.Unix(), Exp: exp.Unix(), Iss: "wfrun", Mark: c.marks[i]}), exp, nil
}

// secretMark is what a token carries of the key secret it was issued for:
// an HMAC under the token key, which tells nothing of the secret.
func (c *AuthConfig) secretMark(keySecret string) string {
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte("wfrun-key-secret\x00" + keySecret))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// jwtClaims are the claims of wfrun's tokens: the key id, the lifetime and
// the mark of the key secret it was issued for. The principal and scopes
// are looked up on every request, so removing a key from the configuration
// revokes its tokens at the next restart, and so does a new key secret.
type jwtClaims struct {
	Sub  string `json:"sub"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
	Iss  string `json:"iss"`
	Mark string `json:"ksm"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func (c *AuthConfig) sign(cl jwtClaims) string {
	body, _ := json.Marshal(cl)
	msg := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// verify checks a token (signature, algorithm, expiry, known key) and
// returns the principal of its application key.
func (c *AuthConfig) verify(token string, now time.Time) (store.Principal, error) {
	token = strings.TrimSpace(strings.TrimPrefix(token, "Bearer "))
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != jwtHeader {
		return store.Principal{}, ErrInvalidToken
	}
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return store.Principal{}, ErrInvalidToken
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return store.Principal{}, ErrInvalidToken
	}
	var cl jwtClaims
	if err := json.Unmarshal(body, &cl); err != nil {
		return store.Principal{}, ErrInvalidToken
	}
	if now.Unix() >= cl.Exp {
		return store.Principal{}, ErrExpiredToken
	}
	i, ok := c.apps[cl.Sub]
	if !ok || subtle.ConstantTimeCompare([]byte(cl.Mark), []byte(c.marks[i])) != 1 {
		// An unknown key, or one whose secret changed since.
		return store.Principal{}, ErrInvalidToken
	}
	return c.Applications[i].principal(), nil
}
