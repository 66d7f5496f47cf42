#!/usr/bin/env bash
# Finds the Chromium the browser tests drive (Playwright cannot download browsers here, so they use
# Debian's `chromium`), or installs it with apt-get when run as root, or fails at once naming the
# command that fixes it. Prints the executable's path. CHROMIUM=/path overrides the search.
# Uses only shell builtins until it has to install, so a test can run it with an empty PATH.
set -euo pipefail
fix="apt-get install -y chromium fonts-dejavu-core   (as root; or set CHROMIUM=/path/to/chromium)"
fail() {
  echo "Chromium for the browser tests is missing: $1" >&2
  echo "Fix: $fix" >&2
  exit 1
}
if [ -n "${CHROMIUM:-}" ]; then
  [ -x "$CHROMIUM" ] || fail "CHROMIUM=$CHROMIUM is not an executable file"
  echo "$CHROMIUM"
  exit 0
fi
for name in chromium chromium-browser; do
  if found="$(command -v "$name")"; then echo "$found"; exit 0; fi
done
command -v apt-get >/dev/null 2>&1 || fail "not on PATH and there is no apt-get to install it"
[ "$EUID" = 0 ] || fail "not on PATH and installing it needs root"
echo "Installing Chromium for the browser tests (apt-get, once)" >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core; } >&2 || fail "apt-get install failed"
found="$(command -v chromium)" || fail "apt-get installed chromium but it is not on PATH"
echo "$found"
