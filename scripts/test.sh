#!/usr/bin/env bash
# Runs every test of the project: installs what the tests need, starts the servers they share, runs each suite,
# stops the servers. `scripts/test.sh tasks requests` runs only the suites whose names are given.
# A PostgreSQL URL in DATABASE_URL, or a MongoDB URI in MONGODB_URI, is used instead of the throwaway server.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install.sh
export PATH="$root/.cache/venv/bin:$root/.cache/bin:$PATH"

work=$(mktemp -d)
cleanup() {
  scripts/db/ferretdb.sh stop "$work/ferretdb" || true
  scripts/db/postgres.sh stop "$work/postgres" || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(scripts/db/postgres.sh start "$work/postgres" "$(scripts/db/free-port.sh)")
fi
if [ -z "${MONGODB_URI:-}" ]; then
  MONGODB_URI=$(scripts/db/ferretdb.sh start "$work/ferretdb" "$(scripts/db/free-port.sh)")
fi
export DATABASE_URL MONGODB_URI

selected=("$@")
passed=() failed=()
suite() {
  local name=$1
  shift
  if [ "${#selected[@]}" -gt 0 ] && [[ " ${selected[*]} " != *" $name "* ]]; then
    return
  fi
  printf '\n== test: %s\n' "$name"
  local started=$SECONDS
  if "$@"; then
    passed+=("$name ($((SECONDS - started)) s)")
  else
    failed+=("$name")
  fi
}

check_shell_scripts() {
  {
    find . -name '*.sh' -not -path '*/node_modules/*' -not -path './.cache/*'
    echo .ci/run
  } | xargs shellcheck
}
check_workflows() {
  actionlint -shellcheck "$(command -v shellcheck)" &&
    check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml &&
    check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml
}

suite deployment npm test
suite release npm run test:release
suite policy npm --prefix policy test
# On the Node the tasks image ships (scripts/install.sh puts it in .cache/node24).
suite tasks env PATH="$root/.cache/node24/bin:$PATH" npm --prefix services/tasks test
suite requests bash -c 'cd services/requests && ruff check . && python -m pytest -q'
suite compose bash -c 'ruff check --config e2e/pyproject.toml e2e scripts/local && python -m pytest -q e2e/test_compose.py'
suite e2e python -m pytest -q e2e/test_end_to_end.py
suite fuzz python -m pytest -q -rs e2e/test_fuzz.py
suite dockerfiles hadolint services/tasks/Dockerfile services/requests/Dockerfile
suite shell check_shell_scripts
suite workflows check_workflows

printf '\n== summary\n'
for name in "${passed[@]}"; do echo "passed: $name"; done
for name in "${failed[@]}"; do echo "FAILED: $name"; done
[ "${#failed[@]}" -eq 0 ]
