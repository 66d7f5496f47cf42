#!/usr/bin/env bash
# Installs Lighthouse (the npm packages pinned in tools/lighthouse/package-lock.json) once per lock
# file into a cache directory, and prints that directory (its node_modules resolve
# tools/lighthouse/run.mjs's imports). The browser tests run it against Debian's chromium
# (CHROME_PATH); node/npm are needed (apt-get installs them as root) only the first time.
# LIGHTHOUSE_DIR=/path overrides.
set -euo pipefail
fail() {
  echo "Lighthouse for the web-quality test is missing: $1" >&2
  echo "Fix: apt-get install -y nodejs npm (Node >= 18.20), then run tools/ensure_lighthouse.sh again" >&2
  exit 1
}
if [ -n "${LIGHTHOUSE_DIR:-}" ]; then
  [ -d "$LIGHTHOUSE_DIR/node_modules/lighthouse" ] || fail "LIGHTHOUSE_DIR=$LIGHTHOUSE_DIR has no node_modules/lighthouse"
  echo "$LIGHTHOUSE_DIR"
  exit 0
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/lighthouse" && pwd)"
lock_id="$(sha1sum "$here/package-lock.json" | cut -c1-12)"
dir="${LIGHTHOUSE_CACHE:-$HOME/.cache/digitalme}/lighthouse-$lock_id"
cli="$dir/node_modules/.bin/lighthouse"
if [ -x "$cli" ]; then echo "$dir"; exit 0; fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || fail "node/npm are not on PATH and there is no apt-get to install them"
  [ "$EUID" = 0 ] || fail "node/npm are not on PATH and installing them needs root"
  echo "Installing Node.js for Lighthouse (apt-get, once)" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; } >&2 \
    || fail "apt-get install nodejs npm failed"
fi
echo "Installing Lighthouse for the web-quality test (npm ci, once)" >&2
tmp="$(mktemp -d)"
cp "$here/package.json" "$here/package-lock.json" "$tmp/"
(cd "$tmp" && npm ci --omit=dev --no-audit --no-fund --loglevel=error) >&2 || { rm -rf "$tmp"; fail "npm ci failed"; }
mkdir -p "$(dirname "$dir")"
# Another run may have finished first: keep theirs.
mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
[ -x "$cli" ] || fail "npm ci finished but $cli is missing"
echo "$dir"
