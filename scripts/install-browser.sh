#!/bin/sh
# Install the Debian packages the tests drive: the browser (chromium and chromium-driver) and
# 7-Zip (p7zip-full: the offboarding test opens the municipality's export with it).
#
#   sudo scripts/install-browser.sh
#
# Idempotent: does nothing when /usr/bin/chromium and /usr/bin/7z are already there. Refreshes the package
# lists (apt-get update) only when they do not offer chromium yet, or when installing from
# the current lists fails (stale lists). Never downloads a browser build of its own (no
# `playwright install`): the tests launch /usr/bin/chromium through Playwright.
#
# Without root it explains what to run and exits 0; the browser tests then skip with a
# reason (or fail under CI=true).
set -eu

BROWSER=/usr/bin/chromium
SEVEN_ZIP=/usr/bin/7z
PACKAGES="chromium chromium-driver p7zip-full"

if [ -x "$BROWSER" ] && [ -x "$SEVEN_ZIP" ]; then
    echo "install-browser: $BROWSER is already installed ($("$BROWSER" --version 2>/dev/null || echo 'version unknown')), and $SEVEN_ZIP"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: $BROWSER or $SEVEN_ZIP is missing and installing them needs root."
    echo "install-browser: run: sudo $0"
    echo "install-browser: (or: sudo apt-get update && sudo apt-get install -y --no-install-recommends $PACKAGES)"
    echo "install-browser: until then the browser tests are skipped (they fail under CI=true)."
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: apt-get not found; install Debian's $PACKAGES by hand." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

offered() {
    # True when the current package lists offer every package we need.
    for package in $PACKAGES; do
        candidate=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
            return 1
        fi
    done
    return 0
}

install() {
    # shellcheck disable=SC2086 # the package list is split on purpose
    apt-get install -y --no-install-recommends $PACKAGES
}

if ! offered; then
    echo "install-browser: package lists do not offer $PACKAGES yet: apt-get update"
    apt-get update
fi

if ! install; then
    echo "install-browser: install failed, refreshing the package lists once and retrying"
    apt-get update
    install
fi

for needed in "$BROWSER" "$SEVEN_ZIP"; do
    if [ ! -x "$needed" ]; then
        echo "install-browser: installed $PACKAGES but $needed is still missing" >&2
        exit 1
    fi
done
echo "install-browser: installed $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
