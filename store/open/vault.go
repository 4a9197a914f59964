package open

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/wfrun/wfrun/store/vault"
)

// vaultParams are the query parameters a vault URL accepts.
var vaultParams = map[string]bool{
	"prefix": true, "auth": true, "namespace": true, "cacert": true, "capath": true,
	"approle_mount": true, "kube_role": true, "kube_mount": true, "kube_token_file": true,
}

// openVault builds a read-only Vault store from
//
//	vault://HOST:PORT/MOUNT?prefix=P&auth=METHOD   (HTTPS)
//	vault+http://HOST:PORT/MOUNT?...               (plain HTTP: dev servers)
//	vault:///MOUNT?...  or  vault:                  (address from VAULT_ADDR)
//
// and Vault's own environment variables, as the vault CLI reads them:
// VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, VAULT_CAPATH; and
// Prefect's for the other methods: VAULT_ROLE_ID, VAULT_SECRET_ID,
// VAULT_KUBE_AUTH_ROLE, VAULT_KUBE_AUTH_PATH (the auth mount),
// VAULT_KUBE_TOKEN_FILE. Query parameters override the variables;
// credentials are only ever read from the environment.
func openVault(cfg Config, raw string) (*vault.Store, error) {
	getenv := cfg.getenv()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadURL, redactURL(raw), fmt.Sprintf(format, a...))
	}
	var u *url.URL
	if raw == "vault:" {
		u = &url.URL{Scheme: "vault"}
	} else {
		var err error
		if u, err = url.Parse(raw); err != nil {
			return nil, bad("not a URL")
		}
	}
	if u.User != nil {
		return nil, bad("credentials do not go in the URL; set VAULT_TOKEN (or VAULT_ROLE_ID and VAULT_SECRET_ID)")
	}
	if u.Opaque != "" {
		return nil, bad("want vault://HOST:PORT/MOUNT")
	}
	q := u.Query()
	for k := range q {
		if !vaultParams[k] {
			return nil, bad("unknown parameter %q (want prefix, auth, namespace, cacert, capath, approle_mount, kube_role, kube_mount or kube_token_file)", k)
		}
	}
	param := func(key, env string) string {
		if v := q.Get(key); v != "" {
			return v
		}
		if env == "" {
			return ""
		}
		return getenv(env)
	}

	addr := getenv("VAULT_ADDR")
	switch {
	case u.Host != "" && u.Scheme == "vault":
		addr = "https://" + u.Host
	case u.Host != "" && u.Scheme == "vault+http":
		addr = "http://" + u.Host
	case u.Host == "" && u.Scheme != "vault":
		return nil, bad("vault+http needs HOST:PORT")
	}
	if addr == "" {
		addr = "https://127.0.0.1:8200" // the vault CLI's default
	}

	opts := vault.Options{
		Address:   addr,
		Mount:     strings.Trim(u.Path, "/"),
		Prefix:    q.Get("prefix"),
		Namespace: param("namespace", "VAULT_NAMESPACE"),
		CACert:    param("cacert", "VAULT_CACERT"),
		CAPath:    param("capath", "VAULT_CAPATH"),
		Auth:      vault.AuthMethod(q.Get("auth")),
		Token:     getenv("VAULT_TOKEN"),
		AppRole: vault.AppRole{
			RoleID:   getenv("VAULT_ROLE_ID"),
			SecretID: getenv("VAULT_SECRET_ID"),
			Mount:    q.Get("approle_mount"),
		},
		Kubernetes: vault.Kubernetes{
			Role:      param("kube_role", "VAULT_KUBE_AUTH_ROLE"),
			Mount:     param("kube_mount", "VAULT_KUBE_AUTH_PATH"),
			TokenFile: param("kube_token_file", "VAULT_KUBE_TOKEN_FILE"),
		},
	}
	if opts.Auth == "auto" {
		opts.Auth = vault.AuthAuto
	}
	s, err := vault.New(opts)
	if err != nil {
		return nil, bad("%v", err)
	}
	return s, nil
}
