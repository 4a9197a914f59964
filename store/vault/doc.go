// Package vault is a read-only secret backend over HashiCorp Vault's (or
// OpenBao's) KV version 2 secrets engine, for use alone or as a layer of
// store.Layered (e.g. environment variables over Vault over the embedded
// file).
//
// # Where secrets live
//
// The secret NAME is read from the KV v2 engine mounted at Options.Mount
// (default "secret") at path Options.Prefix+NAME, i.e. the HTTP request is
// GET /v1/MOUNT/data/PREFIX+NAME. A prefix is a folder: "wfrun" and
// "wfrun/" both mean names under wfrun/. Names whose path segments are
// empty, "." or ".." are refused (store.ErrInvalidName), so a name can
// never address a path outside the prefix.
//
// # Values
//
// A KV v2 secret holds a JSON object (its "data" map). It maps to a wfrun
// secret value as follows:
//
//   - an object with exactly one field named "value" is that field's value:
//     {"value":"tok-123"} is the string "tok-123", {"value":42} is 42 (this
//     is how a plain string is kept in Vault: vault kv put secret/x value=…);
//   - any other object is the secret value itself, as a JSON object:
//     {"ACCESS_KEY":"AK","SECRET_ACCESS_KEY":"SK"} stays that object.
//
// An object secret whose only field is "value" therefore cannot be told
// from a plain one; name such a field differently.
//
// Metadata comes from the same response: Version is the KV version,
// CreatedAt and UpdatedAt are that version's created_time, Tags are the
// secret's custom_metadata, and Expires is the version's deletion_time
// when KV's delete_version_after set one. History lists the live versions
// (deleted and destroyed ones are skipped), newest first.
//
// Every write (put, delete, tags) returns store.ErrReadOnly: secrets are
// managed in Vault. Vault has no wfrun scopes; the backend holds
// organization-level secrets only.
//
// # Authentication
//
// In Prefect's order, the first method whose settings are present wins:
// a token (VAULT_TOKEN), AppRole (role_id and secret_id), then Kubernetes
// (a role and the pod's service-account JWT, read from a file).
// Options.Auth forces one method. Tokens from a login, and a given token
// that Vault reports as renewable, are renewed in the background by the
// api package's lifetime watcher; when renewal ends, the next read logs in
// again. A login-based client that gets "permission denied" logs in once
// more before reporting store.ErrForbidden (its token may have expired).
//
// # One read per secret per run
//
// The Store itself keeps no values. ForRun returns a view with its own
// cache that reads each secret at most once, and store.NewRunView asks for
// such a view (store.PerRun) for every run, so a run sees one consistent
// value per secret and the next run reads Vault again.
//
// # Errors
//
// A missing (or deleted) secret is store.ErrNotFound, a denied one
// store.ErrForbidden, a Vault that cannot be reached or answers with a
// server error store.ErrUnavailable. Error texts name the secret and the
// Vault path, never a value or a token.
package vault
