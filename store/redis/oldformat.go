package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// ErrOldFormat reports a Redis store written in the format before the
// barrier (records with their metadata in clear, one key per secret). This
// version cannot read those records; reading the prefix as an empty store
// would hide every secret, so New refuses it.
var ErrOldFormat = errors.New("old Redis store format")

// The earlier format's keys, all under the same hash tag:
//
//	{prefix}:s:<scope key>:<name>   the current record
//	{prefix}:h:<scope key>:<name>   its history (list)
//	{prefix}:i:<scope key>          the scope's names (sorted set)
//	{prefix}:scopes                 every scope key written (set)
func (s *Storage) oldScopesKey() string            { return s.tag + ":scopes" }
func (s *Storage) oldIndexKey(scope string) string { return s.tag + ":i:" + scope }

// checkFormat refuses a prefix that still holds secrets of the earlier
// format. It reads the scope set and each scope's index (one slot, so one
// pipeline on Cluster too) and writes nothing. A prefix whose old indexes
// are all empty holds nothing to lose and opens.
func (s *Storage) checkFormat(ctx context.Context) error {
	scopes, err := s.client.SMembers(ctx, s.oldScopesKey()).Result()
	if errors.Is(err, goredis.Nil) || (err == nil && len(scopes) == 0) {
		return nil
	}
	if err != nil {
		if goredis.HasErrorPrefix(err, "WRONGTYPE") {
			return nil // not the earlier format's set
		}
		return unavailable("check the store format", err)
	}
	pipe := s.client.Pipeline()
	counts := make([]*goredis.IntCmd, len(scopes))
	for i, sk := range scopes {
		counts[i] = pipe.ZCard(ctx, s.oldIndexKey(sk))
	}
	if _, err := pipe.Exec(ctx); err != nil && !goredis.HasErrorPrefix(err, "WRONGTYPE") {
		return unavailable("check the store format", err)
	}
	n := int64(0)
	for _, c := range counts {
		n += c.Val()
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d secret(s) under %s:s:* were written by an earlier wfrun (metadata in clear) and this version cannot read them; "+
		"set them again under another prefix (?prefix=NAME in the store URL), or delete the keys %s:s:*, %s:h:*, %s:i:* and %s and set them again",
		ErrOldFormat, n, s.tag, s.tag, s.tag, s.tag, s.oldScopesKey())
}
