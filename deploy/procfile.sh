#!/bin/sh
# Runs one Procfile entry (`deploy/procfile.sh web|worker|telegram|beat|release`): the container image, the
# compose file and render.yaml start exactly the commands the Procfile names, so there is one list.
set -eu
cd "$(dirname "$0")/.."
name="${1:?usage: deploy/procfile.sh web|worker|telegram|beat|release}"
line="$(sed -n "s/^${name}: //p" Procfile)"
if [ -z "$line" ]; then
  echo "Procfile has no '${name}:' entry" >&2
  exit 64
fi
# A single command replaces the shell (`exec`), so it is PID 1 in a container and gets SIGTERM for
# a graceful stop (Celery's warm shutdown); a chain (release: a && b) runs in the shell.
case "$line" in
  *"&&"* | *";"* | *"||"*) exec sh -c "$line" ;;
  *) exec sh -c "exec $line" ;;
esac
