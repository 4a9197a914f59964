// Package memory is the in-memory reference backend of the secret store. It
// implements every capability (scopes, GetMany, multi-scope GetKeys, sweeping)
// with the plainest possible code, so the conformance suite has a baseline to
// compare the real backends against. Values are kept in process memory
// unencrypted; it is meant for tests and embedding programs that load
// secrets at start-up.
package memory
