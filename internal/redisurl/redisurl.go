package redisurl

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrSyntax replaces the parse error of a URL that holds a password.
var ErrSyntax = errors.New("the URL does not parse (its text is withheld: it holds a password; " +
	"want redis[s]://[user:password@]host[:port][/db], with @ / : ? # % in the password URL-escaped)")

// Parse is redis.ParseURL with Err's errors.
func Parse(raw string) (*redis.Options, error) {
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, Err(raw, err)
	}
	return o, nil
}

// Err returns err, the error of parsing raw, as it may be shown: ErrSyntax
// when raw holds userinfo (the error text may quote the password or a piece
// of it: an unescaped "/" in a password makes the rest of it the path), err
// itself otherwise.
func Err(raw string, err error) error {
	if err == nil {
		return nil
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok && strings.Contains(rest, "@") {
		return ErrSyntax
	}
	return err
}
