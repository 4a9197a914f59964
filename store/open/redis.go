package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redisurl"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/redis"
	"github.com/wfrun/wfrun/store/seal"
)

// redactURL hides the password of a store URL for error messages, and
// the value of every query parameter not known to hold none: a user may
// write ?password=… or ?token=…, which the store refuses, quoting the URL.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, rest, _ := strings.Cut(u, "://"); p.User == nil && strings.Contains(rest, "@") {
		// A password with an unescaped "/", "?" or "#" is read as the path
		// or the query: Redacted would show it.
		return "(a URL whose password is not URL-escaped)"
	}
	if p.RawQuery != "" {
		q, err := url.ParseQuery(p.RawQuery)
		if err != nil {
			return "(a URL whose query does not parse)"
		}
		for k, vs := range q {
			if !plainURLParams[k] {
				for i := range vs {
					vs[i] = "xxxxx"
				}
			}
		}
		p.RawQuery = q.Encode()
	}
	return p.Redacted()
}

// plainURLParams are the query parameters of store URLs (wfrun's own,
// go-redis's, the Vault backend's) whose values are not secret.
var plainURLParams = map[string]bool{
	// wfrun
	"prefix": true, "history": true, "master": true,
	// the Vault backend
	"auth": true, "namespace": true, "cacert": true, "capath": true, "approle_mount": true,
	"kube_role": true, "kube_mount": true, "kube_token_file": true,
	// go-redis
	"db": true, "protocol": true, "client_name": true, "max_retries": true, "min_retry_backoff": true,
	"max_retry_backoff": true, "dial_timeout": true, "read_timeout": true, "write_timeout": true,
	"context_timeout_enabled": true, "pool_fifo": true, "pool_size": true, "pool_timeout": true,
	"min_idle_conns": true, "max_idle_conns": true, "max_active_conns": true, "conn_max_idle_time": true,
	"conn_max_lifetime": true, "skip_verify": true, "addr": true, "max_redirects": true, "read_only": true,
	"route_by_latency": true, "route_randomly": true, "sentinel_username": true,
}

// splitOwnParams removes wfrun's own query parameters (prefix, history)
// before the URL goes to go-redis, which rejects unknown ones.
func splitOwnParams(raw string) (string, []redis.Option, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, fmt.Errorf("%w: redis URL: %v", ErrBadURL, redisurl.Err(raw, err))
	}
	q := u.Query()
	var opts []redis.Option
	if p := q.Get("prefix"); p != "" {
		opts = append(opts, redis.WithPrefix(p))
	}
	if h := q.Get("history"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 2 {
			return "", nil, fmt.Errorf("%w: %s: history must be an integer >= 2", ErrBadURL, redactURL(raw))
		}
		opts = append(opts, redis.WithHistory(n))
	}
	q.Del("prefix")
	q.Del("history")
	u.RawQuery = q.Encode()
	return u.String(), opts, nil
}

func openRedis(ctx context.Context, cfg Config, raw string) (store.Store, error) {
	client, opts, err := redisClient(raw)
	if err != nil {
		return nil, err
	}
	ring, err := cfg.Keyring()
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("%w: redis at %s: %v", store.ErrUnavailable, redactURL(raw), err)
	}
	s, err := redis.New(client, ring, opts...)
	if err != nil {
		_ = client.Close()
		if errors.Is(err, redis.ErrOldFormat) {
			return nil, fmt.Errorf("redis at %s: %w", redactURL(raw), err)
		}
		return nil, err
	}
	return s, nil
}

// redisKeyID returns the id of the key the Redis store at raw was written
// with, or "" for a store that holds nothing yet.
func redisKeyID(ctx context.Context, raw string) (string, error) {
	client, _, err := redisClient(raw)
	if err != nil {
		return "", err
	}
	defer client.Close()
	u, _ := url.Parse(raw)
	prefix := redis.DefaultPrefix
	if p := u.Query().Get("prefix"); p != "" {
		prefix = p
	}
	st, err := redis.NewStorage(client, prefix)
	if err != nil {
		return "", err
	}
	got, err := st.Get(ctx, store.KeysRecordKey)
	if err != nil {
		return "", fmt.Errorf("redis at %s: %w", redactURL(raw), err)
	}
	if got[0] == nil {
		return "", nil
	}
	id, err := seal.KeyIDOf(got[0])
	if err != nil {
		return "", fmt.Errorf("redis at %s: %w: the key record is malformed", redactURL(raw), store.ErrIntegrity)
	}
	return id, nil
}

// redisClient builds the client a Redis store URL describes (not yet
// connected) and the store options in its query.
func redisClient(raw string) (goredis.UniversalClient, []redis.Option, error) {
	clean, opts, err := splitOwnParams(raw)
	if err != nil {
		return nil, nil, err
	}
	scheme, rest, _ := strings.Cut(clean, "://")
	var client goredis.UniversalClient
	switch scheme {
	case "redis", "rediss":
		o, err := goredis.ParseURL(clean)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadURL, redactURL(raw), redisurl.Err(raw, err))
		}
		client = goredis.NewClient(o)
	case "redis+sentinel", "rediss+sentinel":
		base := strings.TrimSuffix(scheme, "+sentinel")
		u, err := url.Parse(base + "://" + rest)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadURL, redactURL(raw), redisurl.Err(raw, err))
		}
		hosts := strings.Split(u.Host, ",")
		u.Host = hosts[0]
		q := u.Query()
		if m := q.Get("master"); m != "" {
			q.Del("master")
			q.Set("master_name", m)
		}
		for _, h := range hosts[1:] {
			q.Add("addr", h)
		}
		u.RawQuery = q.Encode()
		o, err := goredis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadURL, redactURL(raw), redisurl.Err(raw, err))
		}
		if o.MasterName == "" {
			return nil, nil, fmt.Errorf("%w: %s: Sentinel needs ?master=NAME", ErrBadURL, redactURL(raw))
		}
		client = goredis.NewFailoverClient(o)
	case "redis+cluster", "rediss+cluster":
		base := strings.TrimSuffix(scheme, "+cluster")
		u, err := url.Parse(base + "://" + rest)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadURL, redactURL(raw), redisurl.Err(raw, err))
		}
		hosts := strings.Split(u.Host, ",")
		u.Host = hosts[0]
		q := u.Query()
		for _, h := range hosts[1:] {
			q.Add("addr", h)
		}
		u.RawQuery = q.Encode()
		o, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadURL, redactURL(raw), redisurl.Err(raw, err))
		}
		client = goredis.NewClusterClient(o)
	default:
		return nil, nil, fmt.Errorf("%w: unknown scheme %q", ErrBadURL, scheme)
	}
	return client, opts, nil
}
