package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// nonceFirstUse reports whether a Hawk (id, nonce, ts) is seen for the
// first time within the skew window: in this process, and with
// WithSharedQueue in every process on the Redis, so a signed request
// replayed to another serve process behind the same address is refused
// too. When Redis does not answer, the check is this process's only (the
// secrets and runs it guards live in that Redis: nothing is served then).
func (s *Server) nonceFirstUse(ctx context.Context, key string, now time.Time) bool {
	if !s.nonces.firstUse(key, now) {
		return false
	}
	if s.shared == nil {
		return true
	}
	sum := sha256.Sum256([]byte(key))
	first, err := s.shared.SetNX(ctx, sharedPrefix+"hawk-nonce:"+hex.EncodeToString(sum[:]), 1, 2*HawkSkew).Result()
	if err != nil {
		s.log.Warn("Hawk replay check: Redis did not answer, checked in this process only", "error", s.masker.MaskString(err.Error()))
		return true
	}
	return first
}
