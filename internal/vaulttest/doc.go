// Package vaulttest starts a real Vault dev server for tests.
//
// The binary is WFRUN_VAULT_BIN, else $HOME/.cache/wfrun/vault-1.21.4/vault,
// where tools/vaultdev/build.sh puts it. Each Start launches its own
// `vault server -dev` on a free loopback port (in-memory storage, KV v2 at
// secret/, a known root token) with HOME pointed at a temporary folder so the
// dev server's token file never touches the user's, and stops it when the
// test ends. When the binary is missing the test is skipped locally and
// fails when the environment variable CI is "true".
package vaulttest
