#!/usr/bin/env bash
# Install the design system (npm govuk-frontend, pinned in platform/frontend/package-lock.json)
# and build livc's stylesheet and script into platform/static/build/ (git-ignored):
#   livc.css              GOV.UK Frontend compiled with livc's settings (platform/frontend/livc.scss)
#   govuk-frontend.min.js the design system's own script (menus, tabs, error summary focus)
# axe-core (the accessibility tests' checker) comes with it, into platform/frontend/node_modules.
# Install scripts never run. Idempotent: npm fetches nothing when the tree matches the lock file.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo/platform/frontend"
out="$repo/platform/static/build"

say() { echo "build-frontend: $*" >&2; }
command -v node >/dev/null || { say "node is needed (apt-get install nodejs npm)"; exit 1; }
command -v npm >/dev/null || { say "npm is needed (apt-get install npm)"; exit 1; }

cd "$src"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
mkdir -p "$out"
node node_modules/sass/sass.js --no-source-map --style=compressed --quiet-deps --load-path=node_modules \
    livc.scss "$out/livc.css.tmp"
mv "$out/livc.css.tmp" "$out/livc.css"
cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js "$out/govuk-frontend.min.js"
say "built $out/livc.css ($(wc -c < "$out/livc.css") bytes) with govuk-frontend $(node -p "require('./node_modules/govuk-frontend/package.json').version")"
