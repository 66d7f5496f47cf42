#!/usr/bin/env bash
# Finds promtool (the alert-rule unit tests need it) or fetches it from Debian's `prometheus`
# package into .tools/bin without installing the server: `apt-get download` + `dpkg -x` run no
# maintainer scripts, so no Prometheus service is started. Prints the path; fails naming the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
local_bin="$PWD/.tools/bin/promtool"
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
if [ -x "$local_bin" ]; then echo "$local_bin"; exit 0; fi
fail() {
  echo "promtool is missing and could not be fetched: $1" >&2
  echo "Install it with: apt-get install prometheus   (Debian's package ships promtool)" >&2
  exit 1
}
command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 || fail "no apt-get/dpkg on this machine"
work="$(mktemp -d)"
chmod 755 "$work"  # apt's _apt user downloads into it
trap 'rm -rf "$work"' EXIT
echo "Fetching promtool from Debian's prometheus package into .tools/bin" >&2
if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; fi
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || fail "apt-get download prometheus failed"
fi
dpkg -x "$work"/prometheus_*.deb "$work/x" || fail "dpkg -x failed"
mkdir -p "$(dirname "$local_bin")"
install -m 755 "$work/x/usr/bin/promtool" "$local_bin"
"$local_bin" --version >/dev/null 2>&1 || fail "the fetched promtool does not run"
echo "$local_bin"
