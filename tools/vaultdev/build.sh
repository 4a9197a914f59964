#!/usr/bin/env bash
# Builds a Vault v1.21.4 server binary for wfrun's Vault tests and caches it
# outside the checkout, so that later runs (and CI's fresh clones on the same
# machine) find it at once.
#
#   tools/vaultdev/build.sh          build unless the cached binary works
#   tools/vaultdev/build.sh tidy     refresh this folder's go.mod/go.sum
#
# The binary goes to ${WFRUN_VAULT_BIN:-$HOME/.cache/wfrun/vault-1.21.4/vault};
# the work folder (Vault's adapted source and the scratch module) to
# ${WFRUN_VAULT_WORK:-<binary's folder>/build}.
#
# Why the adaptation: the module proxy serves github.com/hashicorp/vault
# v1.21.4 but not the sdk it was released with; against the served sdk v0.21.0
# three call sites do not compile. The script copies Vault's source out of the
# module cache and edits exactly those three places (each edit is checked to
# apply once), then builds through a replace directive. Nothing of Vault's
# source is kept in wfrun's repository.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
version=v1.21.4
bin="${WFRUN_VAULT_BIN:-$HOME/.cache/wfrun/vault-1.21.4/vault}"
work="${WFRUN_VAULT_WORK:-$(dirname "$bin")/build}"
mode="${1:-build}"

log() { echo "vaultdev: $*" >&2; }

if [ "$mode" = build ] && [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  log "$bin is present ($("$bin" version))"
  exit 0
fi

mkdir -p "$work"
cp "$here/go.mod" "$work/go.mod"
if [ -f "$here/go.sum" ]; then cp "$here/go.sum" "$work/go.sum"; fi

# replace_once FILE OLD NEW: replaces the literal line fragment OLD by NEW and
# fails unless OLD occurs exactly once.
replace_once() {
  local file=$1 old=$2 new=$3 n
  n=$(grep -cF -- "$old" "$file" || true)
  if [ "$n" != 1 ]; then
    log "patch: expected one occurrence in $file, found $n: $old"
    exit 1
  fi
  OLD="$old" NEW="$new" perl -0pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/' "$file"
}

src="$work/vault-src"
if [ ! -f "$src/.wfrun-adapted" ]; then
  tmpmod=$(mktemp -d)
  dir=$(cd "$tmpmod" && GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/vault@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$tmpmod"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    log "go mod download did not yield github.com/hashicorp/vault@$version"
    exit 1
  fi
  rm -rf "$src.tmp"
  cp -R "$dir" "$src.tmp"
  chmod -R u+w "$src.tmp"

  # sdk v0.21.0: framework.Backend.ActivationFunc takes a third (string) argument.
  replace_once "$src.tmp/vault/identity_store_util.go" \
    'func (i *IdentityStore) activateDeduplication(ctx context.Context, req *logical.Request) error {' \
    'func (i *IdentityStore) activateDeduplication(ctx context.Context, req *logical.Request, _ string) error {'
  replace_once "$src.tmp/vault/logical_system_activation_flags.go" \
    'b.idStoreBackend.ActivationFunc(ctx, nil)' \
    'b.idStoreBackend.ActivationFunc(ctx, nil, "")'
  # sdk v0.21.0: keysutil.(*LockManager).RestorePolicy returns only an error.
  replace_once "$src.tmp/builtin/logical/transit/path_restore.go" \
    'restoredKeyName, err := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)' \
    'restoredKeyName, err := keyName, b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)'

  touch "$src.tmp/.wfrun-adapted"
  rm -rf "$src"
  mv "$src.tmp" "$src"
  log "adapted Vault $version source in $src"
fi

cd "$work"
if [ "$mode" = tidy ]; then
  go mod tidy
  cp go.mod go.sum "$here/"
  log "go.mod/go.sum refreshed in $here"
  exit 0
fi

start=$(date +%s)
log "building Vault $version (this takes ~25 minutes on a busy 2-core machine)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp.$$" github.com/hashicorp/vault
mv "$bin.tmp.$$" "$bin"
log "built $bin in $(( $(date +%s) - start ))s: $("$bin" version)"
