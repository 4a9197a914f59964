// Package open picks and opens a secret backend from configuration; the CLI
// and the engine both use it.
//
// # Store URLs (WFRUN_STORE, --store)
//
//	""  or "bolt:"                 $WFRUN_HOME/secrets.db (the default)
//	"bolt:PATH"                    a bbolt file at PATH (relative to $WFRUN_HOME)
//	"redis://[user:pass@]host:port/db"   one Redis node
//	"rediss://..."                 the same over TLS
//	"redis+sentinel://[user:pass@]host1:port,host2:port/db?master=NAME"  Sentinel (rediss+sentinel: TLS)
//	"redis+cluster://[user:pass@]host1:port,host2:port"                Cluster (rediss+cluster: TLS)
//	"env:" or "env:PREFIX"         read-only WFRUN_SECRET_<NAME> (or PREFIX<NAME>) variables
//	"vault://host:port/MOUNT?prefix=P&auth=M"  read-only Vault KV v2 over HTTPS (vault+http:// for
//	                               a dev server; "vault:" takes VAULT_ADDR); see below
//	"A|B|..."                      a layered chain, first match wins, e.g. "env:|bolt:" or
//	                               "env:|vault://vault.internal:8200/secret?prefix=wfrun/|bolt:"
//
// The Redis topology is always chosen by the scheme, never guessed. Redis
// URLs also accept ?prefix=KEYPREFIX (default "wfrun") and ?history=N.
//
// Vault URLs (read-only KV v2, package store/vault) name the server and the
// KV mount: vault://HOST:PORT/MOUNT is HTTPS, vault+http://HOST:PORT/MOUNT
// plain HTTP (dev servers), and "vault:" or vault:///MOUNT take the address
// from VAULT_ADDR. Parameters: prefix (the folder holding wfrun's secrets),
// auth (token, approle or kubernetes; default: the first configured, in that
// order), namespace, cacert, capath, approle_mount, kube_role, kube_mount,
// kube_token_file. Vault's variables are honoured as its CLI does:
// VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, VAULT_CAPATH, plus
// Prefect's VAULT_ROLE_ID, VAULT_SECRET_ID, VAULT_KUBE_AUTH_ROLE,
// VAULT_KUBE_AUTH_PATH and VAULT_KUBE_TOKEN_FILE. Credentials are never
// taken from the URL.
//
// Bolt and Redis values are encrypted with the keyring from
// store/seal.LoadKeyring(Home): WFRUN_MASTER_KEY, else $WFRUN_HOME/master.key.
package open

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/bolt"
	"github.com/wfrun/wfrun/store/env"
	"github.com/wfrun/wfrun/store/seal"
)

// Config says where the secrets live.
type Config struct {
	Home string // WFRUN_HOME
	URL  string // WFRUN_STORE
	// Getenv looks up WFRUN_MASTER_KEY and friends; nil means os.Getenv.
	Getenv func(string) string
	// Ring, when set, is the keyring to use instead of loading one (rekey
	// opens the store with the new key and the old ones).
	Ring *seal.Keyring
}

// DefaultHome is $XDG_DATA_HOME/wfrun, else ~/.local/share/wfrun.
func DefaultHome(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "wfrun")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "wfrun")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "wfrun")
	}
	return filepath.Join(os.TempDir(), "wfrun")
}

// ConfigFromEnv reads WFRUN_HOME and WFRUN_STORE.
func ConfigFromEnv() Config { return ConfigFromGetenv(os.Getenv) }

// ConfigFromGetenv is ConfigFromEnv with an explicit lookup.
func ConfigFromGetenv(getenv func(string) string) Config {
	home := getenv("WFRUN_HOME")
	if home == "" {
		home = DefaultHome(getenv)
	}
	return Config{Home: home, URL: getenv("WFRUN_STORE"), Getenv: getenv}
}

func (c Config) getenv() func(string) string {
	if c.Getenv != nil {
		return c.Getenv
	}
	return os.Getenv
}

// Keyring loads the keyring for c: Ring when set, else WFRUN_MASTER_KEY,
// else $WFRUN_HOME/master.key. A key file is created on first use, except
// when c names a Redis store that already holds secrets: a second home on a
// shared Redis must use the key the store was written with, never create
// its own.
func (c Config) Keyring() (*seal.Keyring, error) {
	if c.Ring != nil {
		return c.Ring, nil
	}
	getenv := c.getenv()
	if strings.TrimSpace(getenv(seal.EnvMasterKey)) == "" && c.Home != "" {
		if _, err := os.Stat(seal.KeyFilePath(c.Home)); errors.Is(err, os.ErrNotExist) {
			for _, part := range strings.Split(c.URL, "|") {
				part = strings.TrimSpace(part)
				if !strings.HasPrefix(part, "redis") {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				id, err := redisKeyID(ctx, part)
				cancel()
				if err != nil {
					return nil, err
				}
				if id != "" {
					return nil, fmt.Errorf("%w: the Redis store at %s already holds secrets sealed with master key %s, and %s has no master.key: set WFRUN_MASTER_KEY to the key every process sharing the store uses (no key file was created)",
						store.ErrWrongKey, redactURL(part), id, c.Home)
				}
			}
		}
	}
	return seal.LoadKeyringEnv(c.Home, getenv)
}

// Open opens the store c describes.
func Open(ctx context.Context, cfg Config) (store.Store, error) {
	parts := layerURLs(cfg.URL)
	if len(parts) == 1 {
		return openOne(ctx, cfg, parts[0])
	}
	var layers []store.Store
	for _, p := range parts {
		s, err := openOne(ctx, cfg, p)
		if err != nil {
			for _, l := range layers {
				_ = l.Close()
			}
			return nil, err
		}
		layers = append(layers, s)
	}
	return store.Layered(layers...), nil
}

// layerURLs are the store URLs of the layers of url ("env: | bolt:"),
// top first.
func layerURLs(url string) []string {
	parts := strings.Split(url, "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// envPrefix is the variable prefix of an env: store URL, given what
// follows "env:".
func envPrefix(rest string) string {
	if rest == "" {
		return env.DefaultPrefix
	}
	return rest
}

// EnvPrefixes are the variable prefixes of the env: stores among the layers
// of url, as Open reads them: whatever else reads the environment must
// keep clear of those variables.
func EnvPrefixes(url string) []string {
	var out []string
	for _, u := range layerURLs(url) {
		if scheme, rest, _ := strings.Cut(u, ":"); scheme == "env" {
			out = append(out, envPrefix(rest))
		}
	}
	return out
}

// ErrBadURL reports a store URL open cannot use.
var ErrBadURL = errors.New("bad store URL")

func openOne(ctx context.Context, cfg Config, u string) (store.Store, error) {
	scheme, rest, _ := strings.Cut(u, ":")
	switch {
	case u == "" || scheme == "bolt":
		path := filepath.Join(cfg.Home, bolt.FileName)
		if rest != "" {
			path = rest
			if !filepath.IsAbs(path) {
				path = filepath.Join(cfg.Home, path)
			}
		}
		if cfg.Home == "" && !filepath.IsAbs(path) {
			return nil, fmt.Errorf("%w: no WFRUN_HOME for the bolt store", ErrBadURL)
		}
		ring, err := cfg.Keyring()
		if err != nil {
			return nil, err
		}
		return bolt.Open(path, ring)
	case scheme == "env":
		return env.New(env.WithPrefix(envPrefix(rest))), nil
	case strings.HasPrefix(scheme, "redis"):
		return openRedis(ctx, cfg, u)
	case scheme == "vault" || scheme == "vault+http":
		return openVault(cfg, u)
	}
	return nil, fmt.Errorf("%w: unknown scheme %q (want bolt:, env:, redis://, rediss://, redis+sentinel://, redis+cluster://, vault:// or vault+http://)", ErrBadURL, scheme)
}
