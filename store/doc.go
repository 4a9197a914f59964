// Package store is wfrun's secret store: the secret model, the Store
// interface, the barrier that implements it once above a small Storage
// interface, scopes, layering, access control, the audit trail and the
// per-run view a workflow run resolves secrets through.
//
// # Barrier
//
// Storage is untrusted (Vault's model). Backends (memory, bolt, redis)
// implement only Storage: opaque records, get/list and an atomic
// conditional commit. Barrier implements every rule above it — versions,
// history, tags, expiry, description, compare-and-swap, sweeping, rekeying,
// key safety and the audit trail — and seals each record whole, value and
// metadata, with the record's exact storage key (scope, name, kind,
// version) as associated data. A record copied under another name or
// version, or edited, fails to open with ErrIntegrity. The store records
// the ids of its keys; a keyring that does not hold them is refused with
// ErrWrongKey before anything is written.
//
// # Model
//
// A Secret has a name, a JSON value (a JSON string for a plain secret, or any
// JSON object such as {"ACCESS_KEY":..., "SECRET_ACCESS_KEY":...}), an optional
// expiry, tags, a description, a version that increments on every write of the
// value, creation and update times, and a Scope.
//
// Names are 1–255 bytes of [A-Za-z0-9_./:-], so Taskcluster-style namespaces
// such as "project/app/prod/api-key" or "captain:limited/1" are valid. Values
// are at most MaxValueSize (64 KiB) of JSON; tags at most MaxTags pairs.
//
// # Semantics every backend shares (checked by store/storetest)
//
//   - Put creates or replaces; it returns the stored secret with its new
//     Version. IfVersion(v) makes it a compare-and-swap (0: must not exist);
//     a mismatch is ErrConflict and changes nothing. Tags and Description left
//     empty in a Put keep the stored ones; Expires is always replaced (zero
//     means never).
//   - After Expires a secret reads as ErrExpired: Get returns its metadata with
//     a nil Value and ErrExpired, never the value; List leaves it out; a
//     Sweeper removes it.
//   - Delete is idempotent and removes the history too.
//   - List returns names in byte order, filtered by prefix, at most Limit
//     (default and maximum 1000) per page, with an opaque ContinuationToken
//     that is empty on the last page.
//   - History keeps the last N versions (backend option, default 10, at least
//     2 so the previous value stays readable during a rotation), newest first.
//   - SetTags/DeleteTags change metadata only; they do not bump Version.
//
// # Scopes
//
// A secret lives at organization level (the zero Scope), project level
// (Scope{Project: P}) or environment level (Scope{Project: P, Environment: E},
// P may be empty for an organization-wide environment such as "prod").
// Project and environment identifiers are 1–64 bytes of [A-Za-z0-9_.-].
// Because names may contain "/" and ":", the scope is never encoded in the
// name: each scope is a separate key space, addressed by Scope.Key()
// ("o", "p/P", "e/P/E"); backends keep one bucket (bolt) or one key prefix
// (redis) per key space. A Store addresses the organization key space;
// InScope(s, scope) returns the view of another one, and Put writes into the
// view's key space.
//
// A run with project P and environment E resolves a name from the narrowest
// scope that holds it: (P,E), then ("",E), then (P), then organization.
//
// # Access control
//
// WithAccess wraps a Store so every call runs as a Principal holding
// Taskcluster-style scopes; a scope ending in "*" matches every string with
// that prefix, and "*" matches everything:
//
//	secrets:get:<name>          read a secret (value, metadata, history)
//	secrets:set:<name>          create, update, delete, tag a secret
//	secrets:list-secrets        list names
//	secrets:get:tag:<k>=<v>     read every secret carrying tag k=v (Orkes-style tag grant)
//	secrets:set:tag:<k>=<v>     update or delete an existing secret carrying tag k=v
//
// Tag grants and name scopes are different kinds: a tag grant is
// "secrets:<action>:tag:<key>=<value>" ("=" is not allowed in names), where
// a trailing "*" may only stand for the end of the value
// ("secrets:get:tag:env=*" grants every value of tag env). A name scope,
// even a pattern such as "secrets:get:t*" or "*", never satisfies a tag
// requirement. Reading history through a tag grant returns only the
// versions whose own tags are granted. A tag grant
// never creates a secret (creation needs a name grant) and an update through
// it must keep a granted tag, so it cannot be used to take over other
// secrets. Lacking permission is ErrForbidden with the same message whether or
// not the secret exists, so it is no existence oracle.
//
// Errors wrap the sentinel values below (use errors.Is) and name the secret;
// no error ever contains a secret value.
package store
