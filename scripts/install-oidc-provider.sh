#!/usr/bin/env bash
# Install the real OpenID Connect provider the single sign-on tests run (panva/oidc-provider,
# pinned in tests/oidc_provider/package.json and package-lock.json) into
# tests/oidc_provider/node_modules (git-ignored). Install scripts never run.
#
# Idempotent: nothing is fetched when the installed tree matches the lock file.
# Usage:   bash scripts/install-oidc-provider.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
folder="$repo/tests/oidc_provider"

say() { echo "install-oidc-provider: $*" >&2; }

command -v node >/dev/null || { say "node is needed (apt-get install nodejs npm)"; exit 1; }
command -v npm >/dev/null || { say "npm is needed (apt-get install npm)"; exit 1; }

cd "$folder"
# npm writes node_modules/.package-lock.json after a complete install; newer than the lock
# file means the tree is current.
if [ -f node_modules/.package-lock.json ] && [ -f package-lock.json ] \
    && [ ! package-lock.json -nt node_modules/.package-lock.json ] \
    && node --input-type=module -e "await import('oidc-provider')" >/dev/null 2>&1; then
    say "oidc-provider already installed"
    exit 0
fi
if [ -f package-lock.json ]; then
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
else
    npm install --ignore-scripts --no-audit --no-fund --loglevel=error
fi
say "installed oidc-provider $(node -p "require('./node_modules/oidc-provider/package.json').version")"
