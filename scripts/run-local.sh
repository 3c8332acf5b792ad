#!/usr/bin/env bash
# Runs the whole system on this machine without Docker, wired as in AWS: throwaway PostgreSQL and FerretDB, local
# stand-ins for Papertrail and Logsene, the tasks service (node, built if needed) and the requests service (gunicorn).
# It prints each step as it goes, then both URLs and where the logs go; Ctrl-C stops everything. Needs
# `scripts/install.sh local` (or the full scripts/install.sh) to have run once.
#   TASKS_PORT=9080 REQUESTS_PORT=9000 scripts/run-local.sh    other ports than 8080 and 8000
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python="$root/.cache/venv/bin/python"
if [ ! -x "$python" ]; then
  echo "run-local: missing: the requests service's Python packages (.cache/venv); run scripts/install.sh local" >&2
  exit 1
fi

# The system is one Python module, shared with the end-to-end test (e2e/). exec hands it this process, so Ctrl-C
# reaches it directly: it stops every process it started, in reverse order, before it exits.
exec "$python" "$root/scripts/local/system.py"
