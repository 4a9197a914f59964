package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/wfrun/wfrun/store"
)

// DefaultMount is the KV v2 mount used when Options.Mount is empty (the
// mount a Vault dev server creates).
const DefaultMount = "secret"

// Options configures New. Address and one way to authenticate are required;
// store/open fills Options from a vault:// URL and Vault's environment
// variables.
type Options struct {
	// Address is Vault's URL, e.g. https://vault.example.com:8200.
	Address string
	// Mount is the KV v2 engine's mount path (default "secret").
	Mount string
	// Prefix is the folder inside the mount that holds wfrun's secrets.
	Prefix string
	// Namespace is a Vault Enterprise / OpenBao namespace (X-Vault-Namespace).
	Namespace string
	// CACert and CAPath name a PEM file / folder of the CA that signed
	// Vault's certificate (VAULT_CACERT, VAULT_CAPATH).
	CACert, CAPath string

	// Auth forces one method; AuthAuto takes the first configured one in
	// Prefect's order: token, AppRole, Kubernetes.
	Auth       AuthMethod
	Token      string
	AppRole    AppRole
	Kubernetes Kubernetes

	// Timeout bounds each request (default 30s).
	Timeout time.Duration
	// MaxRetries is how often a request that failed with a server or
	// connection error is retried: 0 means the api default (2), a negative
	// value none.
	MaxRetries int
	// WrapTransport, if set, wraps the HTTP transport (tests count requests
	// with it; programs can add tracing).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Store is the read-only Vault backend. The value New returns keeps no
// secret values; ForRun returns a view that reads each secret once.
type Store struct {
	store.ReadOnly
	c     *conn
	cache *runCache // nil on the shared store
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.GetManyer = (*Store)(nil)
	_ store.RunScoper = (*Store)(nil)
)

// New returns a Vault store. It checks the options but does not contact
// Vault: the first read logs in, so a chain that never needs Vault never
// waits for it.
func New(opts Options) (*Store, error) {
	c, err := newConn(opts)
	if err != nil {
		return nil, err
	}
	return &Store{ReadOnly: readOnly(c), c: c}, nil
}

// readOnly says where a refused write should go instead.
func readOnly(c *conn) store.ReadOnly {
	return store.ReadOnly{Why: "secrets are managed in Vault (" + c.where() + ")"}
}

// ForRun returns a view for one run: it shares the client and its login,
// and keeps every secret it reads (or its not-found / forbidden answer) for
// its own lifetime, so a run reads each secret from Vault at most once.
// store.NewRunView calls it (through store.PerRun) for every run.
func (s *Store) ForRun() store.Store {
	return &Store{ReadOnly: s.ReadOnly, c: s.c, cache: &runCache{m: map[string]cached{}}}
}

type cached struct {
	sec *store.Secret
	err error
}

// runCache is one run's reads. Its lock is held across the fetch, so
// concurrent tasks of the run asking for the same secret cause one read.
type runCache struct {
	mu sync.Mutex
	m  map[string]cached
}

// keep reports answers that hold for the rest of a run; an unreachable Vault
// is asked again.
func keep(err error) bool {
	if err == nil {
		return true
	}
	for _, e := range []error{store.ErrNotFound, store.ErrForbidden, store.ErrInvalidName, store.ErrTooLarge, store.ErrInvalidValue} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (*store.Secret, error) {
	if s.cache == nil {
		return s.c.read(ctx, name, 0)
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if r, ok := s.cache.m[name]; ok {
		return r.sec.Clone(), r.err
	}
	sec, err := s.c.read(ctx, name, 0)
	if keep(err) {
		s.cache.m[name] = cached{sec: sec.Clone(), err: err}
	}
	return sec, err
}

// GetMany implements store.GetManyer: one read per name not yet read.
func (s *Store) GetMany(ctx context.Context, names []string) (map[string]*store.Secret, map[string]error, error) {
	found, errs := make(map[string]*store.Secret, len(names)), map[string]error{}
	for _, n := range names {
		sec, err := s.Get(ctx, n)
		switch {
		case err == nil:
			found[n] = sec
		case errors.Is(err, store.ErrUnavailable):
			return nil, nil, err
		default:
			errs[n] = err
		}
	}
	return found, errs, nil
}

// List implements store.Store: the names under the prefix, walking KV v2's
// folders (LIST /v1/MOUNT/metadata/…).
func (s *Store) List(ctx context.Context, opt store.ListOptions) (*store.ListPage, error) {
	if _, _, err := store.NormalizeList(opt); err != nil {
		return nil, err
	}
	// Start at the deepest folder the prefix names, so a narrow list does
	// not walk the whole tree.
	folder := opt.Prefix[:strings.LastIndex(opt.Prefix, "/")+1]
	if folder != "" && checkPath(strings.TrimSuffix(folder, "/")) != nil {
		return store.PageNames(nil, opt)
	}
	var names []string
	if err := s.c.list(ctx, folder, 0, &names); err != nil {
		return nil, err
	}
	kept := names[:0]
	for _, n := range names {
		if strings.HasPrefix(n, opt.Prefix) {
			kept = append(kept, n)
		}
	}
	return store.PageNames(kept, opt)
}

// History implements store.Store: the live KV versions, newest first.
func (s *Store) History(ctx context.Context, name string, n int) ([]*store.Secret, error) {
	versions, err := s.c.versions(ctx, name)
	if err != nil {
		return nil, err
	}
	n = store.ClampHistory(n, len(versions))
	out := make([]*store.Secret, 0, n)
	for _, v := range versions {
		if len(out) == n {
			break
		}
		sec, err := s.c.read(ctx, name, v)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the metadata read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	return out, nil
}

// Close stops token renewal. Closing a run view (ForRun) only drops its
// cache.
func (s *Store) Close() error {
	if s.cache != nil {
		s.cache.mu.Lock()
		s.cache.m = map[string]cached{}
		s.cache.mu.Unlock()
		return nil
	}
	s.c.close()
	return nil
}

// checkPath refuses names Vault would read as another path: empty, "." or
// ".." segments (a name must stay under the prefix).
func checkPath(name string) error {
	if err := store.ValidateName(name); err != nil {
		return err
	}
	for _, seg := range strings.Split(name, "/") {
		switch seg {
		case "", ".", "..":
			return fmt.Errorf("secret %q: %w: Vault paths cannot have empty, \".\" or \"..\" segments", name, store.ErrInvalidName)
		}
	}
	return nil
}

// maxBody bounds what is read of one response.
const maxBody = 4 << 20

type kvMetadata struct {
	CreatedTime    time.Time         `json:"created_time"`
	CustomMetadata map[string]string `json:"custom_metadata"`
	DeletionTime   string            `json:"deletion_time"`
	Destroyed      bool              `json:"destroyed"`
	Version        int64             `json:"version"`
}

type kvResponse struct {
	Data *struct {
		Data     json.RawMessage `json:"data"`
		Metadata kvMetadata      `json:"metadata"`
	} `json:"data"`
}

// read fetches name (version 0: the current one).
func (c *conn) read(ctx context.Context, name string, version int64) (*store.Secret, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	path := c.mount + "/data/" + c.prefix + name
	var params map[string][]string
	if version > 0 {
		params = map[string][]string{"version": {strconv.FormatInt(version, 10)}}
	}
	var body []byte
	err := c.do(ctx, func(ctx context.Context, cl *api.Client) error {
		resp, err := cl.Logical().ReadRawWithDataWithContext(ctx, path, params)
		if resp != nil {
			defer resp.Body.Close()
		}
		if err != nil {
			return err
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		return err
	})
	if err != nil {
		return nil, c.classify("read", name, path, err)
	}
	var kv kvResponse
	if err := json.Unmarshal(body, &kv); err != nil || kv.Data == nil {
		return nil, fmt.Errorf("secret %q: %w: Vault's answer for %s is not a KV version 2 secret (is %q a KV v2 mount?)", name, store.ErrUnavailable, path, c.mount)
	}
	md := kv.Data.Metadata
	if md.Destroyed || len(kv.Data.Data) == 0 || string(kv.Data.Data) == "null" {
		return nil, fmt.Errorf("secret %q: %w (deleted in Vault at %s)", name, store.ErrNotFound, path)
	}
	value, err := valueOf(kv.Data.Data)
	if err != nil {
		return nil, fmt.Errorf("secret %q at %s: %w", name, path, err)
	}
	sec := &store.Secret{
		Name:      name,
		Value:     value,
		Version:   md.Version,
		CreatedAt: md.CreatedTime,
		UpdatedAt: md.CreatedTime,
	}
	if len(md.CustomMetadata) > 0 {
		sec.Tags = md.CustomMetadata
	}
	if md.DeletionTime != "" {
		if t, err := time.Parse(time.RFC3339Nano, md.DeletionTime); err == nil {
			sec.Expires = t
		}
	}
	return sec, nil
}

// valueOf maps a KV v2 data object to a secret value (see the package doc).
func valueOf(data json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: KV data is not a JSON object", store.ErrInvalidValue)
	}
	raw := data
	if v, ok := fields["value"]; ok && len(fields) == 1 {
		raw = v
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("%w: KV data is not valid JSON", store.ErrInvalidValue)
	}
	if b.Len() > store.MaxValueSize {
		return nil, fmt.Errorf("%w: %d bytes of JSON, at most %d", store.ErrTooLarge, b.Len(), store.MaxValueSize)
	}
	return b.Bytes(), nil
}

// versions returns name's live KV versions, newest first.
func (c *conn) versions(ctx context.Context, name string) ([]int64, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	path := c.mount + "/metadata/" + c.prefix + name
	var sec *api.Secret
	err := c.do(ctx, func(ctx context.Context, cl *api.Client) (err error) {
		sec, err = cl.Logical().ReadWithContext(ctx, path)
		return err
	})
	if err != nil {
		return nil, c.classify("read metadata of", name, path, err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	vs, _ := sec.Data["versions"].(map[string]any)
	now := time.Now()
	var out []int64
	for k, raw := range vs {
		v, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			continue
		}
		meta, _ := raw.(map[string]any)
		if destroyed, _ := meta["destroyed"].(bool); destroyed {
			continue
		}
		if dt, _ := meta["deletion_time"].(string); dt != "" {
			if t, err := time.Parse(time.RFC3339Nano, dt); err == nil && !now.Before(t) {
				continue
			}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("secret %q: %w (no live version in Vault at %s)", name, store.ErrNotFound, path)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out, nil
}

// Limits of a List walk, so a huge or cyclic tree cannot run away.
const (
	maxListDepth = 32
	maxListNames = 100000
)

// list appends every name under folder (relative to the prefix; "" or
// ending in "/") to names.
func (c *conn) list(ctx context.Context, folder string, depth int, names *[]string) error {
	if depth > maxListDepth {
		return nil
	}
	path := c.mount + "/metadata/" + c.prefix + folder
	var sec *api.Secret
	err := c.do(ctx, func(ctx context.Context, cl *api.Client) (err error) {
		sec, err = cl.Logical().ListWithContext(ctx, path)
		return err
	})
	if err != nil {
		if err := c.classify("list", folder, path, err); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	if sec == nil || sec.Data == nil {
		return nil
	}
	keys, _ := sec.Data["keys"].([]any)
	for _, k := range keys {
		key, _ := k.(string)
		if key == "" {
			continue
		}
		if strings.HasSuffix(key, "/") {
			if err := c.list(ctx, folder+key, depth+1, names); err != nil {
				return err
			}
			continue
		}
		if len(*names) >= maxListNames {
			return fmt.Errorf("list: %w: more than %d secrets under %s", store.ErrUnavailable, maxListNames, c.where())
		}
		if checkPath(folder+key) == nil {
			*names = append(*names, folder+key)
		}
	}
	return nil
}

// classify maps a client error to a store sentinel. The text names the
// operation, the secret and the path; Vault's own error strings are kept
// only when they parsed as Vault errors (never a raw body).
func (c *conn) classify(op, name, path string, err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		detail := ""
		if !re.RawError && len(re.Errors) > 0 {
			// Vault's texts are multi-line lists ("1 error occurred:\n\t* …").
			detail = ": " + cut(strings.Join(strings.Fields(strings.Join(re.Errors, "; ")), " "), 200)
		}
		var sentinel error
		switch {
		case re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("secret %q: %w (no %s in Vault)", name, store.ErrNotFound, path)
		case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized:
			sentinel = store.ErrForbidden
		case re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests:
			sentinel = store.ErrUnavailable
		default:
			sentinel = store.ErrInvalidValue
		}
		return fmt.Errorf("%s secret %q: %w: Vault answered HTTP %d for %s%s", op, name, sentinel, re.StatusCode, path, detail)
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrForbidden) {
		return fmt.Errorf("%s secret %q: %w", op, name, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s secret %q: %w: %w", op, name, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s secret %q: %w: %s: %v", op, name, store.ErrUnavailable, c.where(), c.scrub(err, ""))
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
