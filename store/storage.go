package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Storage is the physical layer under the Barrier: opaque records addressed
// by string keys (Vault's physical backend). A Storage knows nothing of
// secrets, versions, tags or access; it only keeps bytes. The Barrier seals
// every record it hands over, binding it to its key, so a Storage (and
// whoever can write to it) is untrusted: what is read back is
// authenticated, not believed.
//
// memory, bolt and redis implement Storage; store/storetest checks the
// rules above it once for all of them.
type Storage interface {
	// Get returns the records stored under keys, in order, with a nil entry
	// for a key that holds nothing. One call is one round trip.
	Get(ctx context.Context, keys ...string) ([][]byte, error)
	// List returns up to limit keys that start with prefix and sort after
	// after (byte order; "" lists from the start). limit <= 0 means all.
	List(ctx context.Context, prefix, after string, limit int) ([]string, error)
	// Commit applies writes atomically if every condition still holds, else
	// it changes nothing and returns an error wrapping ErrConflict.
	Commit(ctx context.Context, conds []Cond, writes []Write) error
	// Close releases the storage.
	Close() error
}

// Cond is a Commit precondition: Key holds exactly Value (nil: holds
// nothing).
type Cond struct {
	Key   string
	Value []byte
}

// Write is one change of a Commit: Key is set to Value (nil: deleted).
type Write struct {
	Key   string
	Value []byte
}

// Compactor is a Storage that can keep the bytes of deleted or replaced
// records (bbolt's free pages). Compact rewrites it so none are left.
type Compactor interface {
	Compact(ctx context.Context) error
}

// ErrIntegrity reports a stored record that fails authentication: it was
// edited, copied from another key (another secret, scope, kind or version)
// or is not a record at all. Its content is never used.
var ErrIntegrity = errors.New("stored record failed its integrity check")

// ErrWrongKey reports a master key the store was not written with.
var ErrWrongKey = errors.New("master key does not match the store")

// Record keys. Everything but the key is inside the sealed envelope; the
// envelope's associated data is the key, so a record opens only where it
// was written:
//
//	c/<scope key>/<name>                 the current version of a secret
//	h/<scope key>/<name>@<version, hex>  one kept version (history)
//	m/keys                               the ids of the keys the store holds
//	a/<sequence, hex>                    one audit record (hash-chained)
//
// A scope key ("o", "p/P", "e/P/E") has a fixed number of segments given
// by its first letter, and names cannot contain "@", so keys never collide.
// KeysRecordKey is the storage key of the record holding the ids of the
// keys a store is sealed with (its ciphertext carries the id in clear).
const KeysRecordKey = keysKey

const (
	kindCurrent = "c"
	kindVersion = "h"
	keysKey     = "m/keys"
	auditPrefix = "a/"
)

func currentKey(sk, name string) string { return kindCurrent + "/" + sk + "/" + name }

func versionPrefix(sk, name string) string { return kindVersion + "/" + sk + "/" + name + "@" }

func versionKey(sk, name string, v int64) string {
	return fmt.Sprintf("%s%016x", versionPrefix(sk, name), v)
}

// parseCurrentKey splits a current-record key into scope and name.
func parseCurrentKey(k string) (Scope, string, error) {
	rest, ok := strings.CutPrefix(k, kindCurrent+"/")
	if !ok || rest == "" {
		return Scope{}, "", fmt.Errorf("%w: bad record key %q", ErrIntegrity, k)
	}
	segs := map[byte]int{'o': 1, 'p': 2, 'e': 3}[rest[0]]
	parts := strings.SplitN(rest, "/", segs+1)
	if segs == 0 || len(parts) != segs+1 {
		return Scope{}, "", fmt.Errorf("%w: bad record key %q", ErrIntegrity, k)
	}
	sc, err := ParseScopeKey(strings.Join(parts[:segs], "/"))
	if err != nil {
		return Scope{}, "", fmt.Errorf("%w: bad record key %q", ErrIntegrity, k)
	}
	return sc, parts[segs], nil
}

func recordAAD(key string) []byte { return []byte("wfrun-record\x00" + key) }
