#!/bin/sh
# Runs one Procfile entry (`deploy/procfile.sh web|worker|beat|release`): the container image, the
# compose file and render.yaml start exactly the commands the Procfile names, so there is one list.
set -eu
cd "$(dirname "$0")/.."
name="${1:?usage: deploy/procfile.sh web|worker|beat|release}"
line="$(sed -n "s/^${name}: //p" Procfile)"
if [ -z "$line" ]; then
  echo "Procfile has no '${name}:' entry" >&2
  exit 64
fi
exec sh -c "$line"
