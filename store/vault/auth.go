package vault

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/vault/api"

	"github.com/wfrun/wfrun/store"
)

// AuthMethod names a way to log in to Vault.
type AuthMethod string

// The methods, in the order AuthAuto tries them (Prefect's order).
const (
	AuthAuto       AuthMethod = ""
	AuthToken      AuthMethod = "token"
	AuthAppRole    AuthMethod = "approle"
	AuthKubernetes AuthMethod = "kubernetes"
)

// AppRole holds AppRole credentials (POST /v1/auth/MOUNT/login).
type AppRole struct {
	RoleID, SecretID string
	Mount            string // default "approle"
}

// Kubernetes holds Kubernetes auth settings (POST /v1/auth/MOUNT/login with
// the pod's service-account JWT).
type Kubernetes struct {
	Role      string
	TokenFile string // default DefaultKubeTokenFile
	Mount     string // default "kubernetes"
}

// DefaultKubeTokenFile is where Kubernetes mounts a pod's service-account
// token.
const DefaultKubeTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// ErrNoCredentials reports Options without any way to log in.
var ErrNoCredentials = errors.New("no Vault credentials")

var errClosed = fmt.Errorf("%w: the Vault store is closed", store.ErrUnavailable)

// conn is the client and login state shared by a Store and its run views.
type conn struct {
	client  *api.Client
	method  AuthMethod
	opts    Options
	mount   string
	prefix  string
	timeout time.Duration
	// addr is the address as messages show it, hide the credentials its
	// userinfo holds (shownAddress).
	addr string
	hide []string

	mu      sync.Mutex // guards the fields below and serialises logins
	authed  bool
	mountOK bool // the mount was checked to be KV version 2 (or could not be checked)
	gen     int  // bumped by every login; a stale watcher cannot undo a newer one
	watcher *api.LifetimeWatcher
	closed  bool
}

// method picks the auth method: the forced one, else the first configured
// one in Prefect's order.
func (o Options) method() (AuthMethod, error) {
	switch o.Auth {
	case AuthToken:
		if o.Token == "" {
			return "", fmt.Errorf("%w: auth=token needs a token (VAULT_TOKEN)", ErrNoCredentials)
		}
		return AuthToken, nil
	case AuthAppRole:
		if o.AppRole.RoleID == "" || o.AppRole.SecretID == "" {
			return "", fmt.Errorf("%w: auth=approle needs a role id and a secret id (VAULT_ROLE_ID, VAULT_SECRET_ID)", ErrNoCredentials)
		}
		return AuthAppRole, nil
	case AuthKubernetes:
		if o.Kubernetes.Role == "" {
			return "", fmt.Errorf("%w: auth=kubernetes needs a role (VAULT_KUBE_AUTH_ROLE)", ErrNoCredentials)
		}
		return AuthKubernetes, nil
	case AuthAuto:
		switch {
		case o.Token != "":
			return AuthToken, nil
		case o.AppRole.RoleID != "" && o.AppRole.SecretID != "":
			return AuthAppRole, nil
		case o.Kubernetes.Role != "":
			return AuthKubernetes, nil
		}
		return "", fmt.Errorf("%w: set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID (AppRole), or VAULT_KUBE_AUTH_ROLE (Kubernetes)", ErrNoCredentials)
	}
	return "", fmt.Errorf("unknown Vault auth method %q (want token, approle or kubernetes)", o.Auth)
}

func newConn(o Options) (*conn, error) {
	if strings.TrimSpace(o.Address) == "" {
		return nil, errors.New("vault: no address (set VAULT_ADDR or give vault://HOST:PORT)")
	}
	method, err := o.method()
	if err != nil {
		return nil, err
	}
	mount := strings.Trim(o.Mount, "/")
	if mount == "" {
		mount = DefaultMount
	}
	prefix := strings.Trim(o.Prefix, "/")
	if prefix != "" {
		if err := checkPath(prefix); err != nil {
			return nil, fmt.Errorf("vault: prefix %q: not a usable Vault folder", o.Prefix)
		}
		prefix += "/"
	}
	if err := checkPath(mount); err != nil {
		return nil, fmt.Errorf("vault: mount %q: not a usable Vault path", o.Mount)
	}
	addr, hide := shownAddress(o.Address)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}

	cfg := &api.Config{
		Address:    o.Address,
		HttpClient: cleanhttp.DefaultPooledClient(),
		Timeout:    timeout,
		MaxRetries: 2,
	}
	switch {
	case o.MaxRetries < 0:
		cfg.MaxRetries = 0
	case o.MaxRetries > 0:
		cfg.MaxRetries = o.MaxRetries
	}
	// Like api.DefaultConfig: never follow redirects blindly (the client
	// handles Vault's own), and TLS 1.2 at least.
	cfg.HttpClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.HttpClient.Transport.(*http.Transport).TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: o.CACert, CAPath: o.CAPath}); err != nil {
		return nil, fmt.Errorf("vault: TLS settings (CA cert %q, CA path %q): %w", o.CACert, o.CAPath, err)
	}
	if o.WrapTransport != nil {
		cfg.HttpClient.Transport = o.WrapTransport(cfg.HttpClient.Transport)
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault: address %s: %s", addr, scrubText(err.Error(), hide...))
	}
	// NewClient also reads VAULT_TOKEN and VAULT_NAMESPACE from the process
	// environment; the options are the one source of truth.
	client.ClearToken()
	client.ClearNamespace()
	if o.Namespace != "" {
		client.SetNamespace(o.Namespace)
	}
	return &conn{client: client, method: method, opts: o, mount: mount, prefix: prefix, timeout: timeout, addr: addr, hide: hide}, nil
}

// where describes the store for messages (no credentials).
func (c *conn) where() string {
	return fmt.Sprintf("Vault %s, KV v2 mount %q, prefix %q", c.addr, c.mount, c.prefix)
}

// do runs f with a logged-in client. A login-based client that is refused
// logs in again once (its token may have expired or been revoked).
func (c *conn) do(ctx context.Context, f func(context.Context, *api.Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		gen, err := c.ensureLogin(ctx)
		if err != nil {
			return err
		}
		err = f(ctx, c.client)
		var re *api.ResponseError
		if attempt == 0 && c.method != AuthToken && errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
			c.invalidate(gen)
			continue
		}
		return err
	}
}

// invalidate forgets login generation gen, so the next request logs in.
func (c *conn) invalidate(gen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.authed = false
		if c.watcher != nil {
			c.watcher.Stop()
			c.watcher = nil
		}
	}
}

func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.authed = false
	if c.watcher != nil {
		c.watcher.Stop()
		c.watcher = nil
	}
}

// ensureLogin logs in unless a login is current and returns its generation.
func (c *conn) ensureLogin(ctx context.Context) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errClosed
	}
	if c.authed {
		return c.gen, nil
	}
	var auth *api.Secret
	var err error
	switch c.method {
	case AuthToken:
		auth, err = c.useToken(ctx)
	case AuthAppRole:
		auth, err = c.login(ctx, "approle", c.opts.AppRole.Mount, map[string]any{
			"role_id": c.opts.AppRole.RoleID, "secret_id": c.opts.AppRole.SecretID,
		})
	case AuthKubernetes:
		auth, err = c.kubernetesLogin(ctx)
	}
	if err != nil {
		return 0, err
	}
	if !c.mountOK {
		if err := c.checkMount(ctx); err != nil {
			return 0, err
		}
		c.mountOK = true
	}
	c.gen++
	c.authed = true
	if auth != nil && auth.Auth != nil && auth.Auth.Renewable && auth.Auth.LeaseDuration > 0 {
		c.watch(auth)
	}
	return c.gen, nil
}

// useToken sets the given token and learns whether Vault renews it. A token
// that may not look itself up is used as it is, without renewal.
func (c *conn) useToken(ctx context.Context) (*api.Secret, error) {
	c.client.SetToken(c.opts.Token)
	self, err := c.client.Auth().Token().LookupSelfWithContext(ctx)
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode < 500 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: token lookup at %s: %v", store.ErrUnavailable, c.addr, c.scrub(err, c.opts.Token))
	}
	renewable, _ := self.TokenIsRenewable()
	ttl, _ := self.TokenTTL()
	if !renewable || ttl <= 0 {
		return nil, nil
	}
	return &api.Secret{Auth: &api.SecretAuth{ClientToken: c.opts.Token, Renewable: true, LeaseDuration: int(ttl / time.Second)}}, nil
}

func (c *conn) kubernetesLogin(ctx context.Context) (*api.Secret, error) {
	file := c.opts.Kubernetes.TokenFile
	if file == "" {
		file = DefaultKubeTokenFile
	}
	jwt, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: Kubernetes auth: service-account token: %v", store.ErrForbidden, err)
	}
	return c.login(ctx, "kubernetes", c.opts.Kubernetes.Mount, map[string]any{
		"role": c.opts.Kubernetes.Role, "jwt": strings.TrimSpace(string(jwt)),
	})
}

// login posts credentials to auth/MOUNT/login and uses the token it gets.
// Errors carry the HTTP status only: a login error text is never echoed.
func (c *conn) login(ctx context.Context, kind, mount string, body map[string]any) (*api.Secret, error) {
	if mount = strings.Trim(mount, "/"); mount == "" {
		mount = kind
	}
	c.client.ClearToken()
	sec, err := c.client.Logical().WriteWithContext(ctx, "auth/"+mount+"/login", body)
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode < 500:
		return nil, fmt.Errorf("%w: %s login at %s refused (HTTP %d)", store.ErrForbidden, kind, c.addr, re.StatusCode)
	case err != nil:
		return nil, fmt.Errorf("%w: %s login at %s: %v", store.ErrUnavailable, kind, c.addr, c.scrubAll(err, body))
	case sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "":
		return nil, fmt.Errorf("%w: %s login at %s returned no token", store.ErrForbidden, kind, c.addr)
	}
	c.client.SetToken(sec.Auth.ClientToken)
	return sec, nil
}

// watch renews auth's token in the background until renewal ends (the
// token's max TTL, or an error); then the next request logs in again.
func (c *conn) watch(auth *api.Secret) {
	w, err := c.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: auth})
	if err != nil {
		return
	}
	c.watcher = w
	gen := c.gen
	go w.Start()
	go func() {
		for {
			select {
			case <-w.DoneCh():
				if c.method != AuthToken {
					c.invalidate(gen)
				}
				return
			case <-w.RenewCh():
			}
		}
	}()
}

// scrub removes secret from err's text (defence in depth: the api package's
// errors name the URL, never a body or header).
// scrub is err's text without secret and the address's credentials.
func (c *conn) scrub(err error, secret string) string {
	return scrubText(err.Error(), append([]string{secret}, c.hide...)...)
}

// scrubAll is err's text without the string values of body (a login's
// credentials) and the address's credentials.
func (c *conn) scrubAll(err error, body map[string]any) string {
	hide := append([]string(nil), c.hide...)
	for _, v := range body {
		if str, ok := v.(string); ok {
			hide = append(hide, str)
		}
	}
	return scrubText(err.Error(), hide...)
}

// scrubText replaces every non-empty string of hide in s with "***",
// longest first (one may hold another).
func scrubText(s string, hide ...string) string {
	hide = append([]string(nil), hide...)
	sort.Slice(hide, func(i, j int) bool { return len(hide[i]) > len(hide[j]) })
	for _, h := range hide {
		if h != "" {
			s = strings.ReplaceAll(s, h, "***")
		}
	}
	return s
}

// shownAddress is addr as messages show it, and the credentials to keep
// out of any text that may quote it: a userinfo's password (as written
// and decoded) is replaced as url.URL.Redacted does; an address that does
// not parse as a URL with a host is not shown at all (a parse error would
// quote it whole).
func shownAddress(addr string) (string, []string) {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		var hide []string
		if i := strings.Index(addr, "://"); i >= 0 {
			if at := strings.LastIndex(addr[i+3:], "@"); at >= 0 {
				hide = append(hide, addr[i+3:i+3+at])
			}
		}
		return "(VAULT_ADDR, not a URL with a host)", hide
	}
	var hide []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			hide = append(hide, pw)
		}
		rest := addr[strings.Index(addr, "://")+3:]
		if at := strings.LastIndex(rest[:strings.IndexAny(rest+"/", "/?#")], "@"); at >= 0 {
			if _, raw, ok := strings.Cut(rest[:at], ":"); ok {
				hide = append(hide, raw)
			}
		}
	}
	return u.Redacted(), hide
}

// checkMount asks Vault what the mount is, so that a KV version 1 mount (or
// another engine) is a clear error rather than every secret reading as
// missing. A token that may not ask is let through.
func (c *conn) checkMount(ctx context.Context) error {
	sec, err := c.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+c.mount)
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode < 500:
		return nil
	case err != nil:
		return fmt.Errorf("%w: %s: %v", store.ErrUnavailable, c.where(), c.scrub(err, c.client.Token()))
	case sec == nil || sec.Data == nil:
		return nil
	}
	typ, _ := sec.Data["type"].(string)
	opts, _ := sec.Data["options"].(map[string]any)
	version, _ := opts["version"].(string)
	switch {
	case typ == "kv" && version == "2":
		return nil
	case typ == "kv":
		return fmt.Errorf("%w: %s: the mount is KV version 1; wfrun reads KV version 2 (vault kv enable-versioning %s)", store.ErrUnavailable, c.where(), c.mount)
	}
	return fmt.Errorf("%w: %s: the mount is a %q engine, not KV version 2", store.ErrUnavailable, c.where(), typ)
}
