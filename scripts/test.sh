#!/usr/bin/env bash
# Runs every test of the project: installs what the tests need, starts the servers they share, runs each suite,
# stops the servers. `scripts/test.sh tasks requests` runs only the suites whose names are given.
# A PostgreSQL URL in DATABASE_URL, or a MongoDB URI in MONGODB_URI, is used instead of the throwaway server.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
selected=("$@")
wanted() { [ "${#selected[@]}" -eq 0 ] || [[ " ${selected[*]} " == *" $1 "* ]]; }

work=$(mktemp -d)
cleanup() {
  # The Pulumi CLI build runs in its own process group (setsid), so this stops the whole build.
  [ -z "${pulumi_cli_build:-}" ] || kill -- "-$pulumi_cli_build" 2>/dev/null || true
  scripts/db/ferretdb.sh stop "$work/ferretdb" || true
  scripts/db/postgres.sh stop "$work/postgres" || true
  rm -rf "$work"
}
trap cleanup EXIT

# The Pulumi CLI takes minutes to build on a fresh machine, so it builds while the other suites run; the pulumi-cli
# and engine suites wait for it.
if wanted pulumi-cli || wanted engine; then
  setsid scripts/install.sh pulumi-cli >"$work/pulumi-cli.log" 2>&1 &
  pulumi_cli_build=$!
fi
scripts/install.sh
export PATH="$root/.cache/venv/bin:$root/.cache/bin:$PATH"

if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(scripts/db/postgres.sh start "$work/postgres" "$(scripts/db/free-port.sh)")
fi
if [ -z "${MONGODB_URI:-}" ]; then
  MONGODB_URI=$(scripts/db/ferretdb.sh start "$work/ferretdb" "$(scripts/db/free-port.sh)")
fi
export DATABASE_URL MONGODB_URI

passed=() failed=()
suite() {
  local name=$1
  shift
  wanted "$name" || return 0
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
# zizmor runs offline (no GitHub API) with .github/zizmor.yml, which explains each finding it lets pass.
check_workflows() {
  actionlint -shellcheck "$(command -v shellcheck)" &&
    check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.y*ml &&
    check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.y*ml &&
    zizmor --offline --no-progress .github/
}
# Waits for the background build of the Pulumi CLI (once), and shows its outcome.
wait_for_pulumi_cli() {
  [ -n "${pulumi_cli_build:-}" ] || return 0
  local started=$SECONDS
  if ! wait "$pulumi_cli_build"; then
    cat "$work/pulumi-cli.log"
    return 1
  fi
  unset pulumi_cli_build
  grep '^install: ' "$work/pulumi-cli.log" || true
  echo "waited $((SECONDS - started)) s for the Pulumi CLI build"
}
# The deploy scripts through the real Pulumi CLI.
pulumi_cli_suite() {
  wait_for_pulumi_cli && npx mocha --config test/cli/mocharc.json
}
# The program on the real Pulumi engine, against the rig's AWS and hosts. The rig's network has fixed names, so two
# runs on one machine (two checkouts) take turns.
engine_suite() {
  wait_for_pulumi_cli && flock /tmp/microservices-engine-rig.lock npx mocha --config test/engine/.mocharc.json
}

suite deployment npm test
suite release npm run test:release
suite https npx mocha --config test/https/.mocharc.json
suite policy npm --prefix policy test
# On the Node the tasks image ships (scripts/install.sh puts it in .cache/node24).
suite tasks env PATH="$root/.cache/node24/bin:$PATH" npm --prefix services/tasks test
suite requests bash -c 'cd services/requests && ruff check . && python -m pytest -q'
suite compose bash -c 'ruff check --config e2e/pyproject.toml e2e scripts/local && python -m pytest -q e2e/test_compose.py'
suite e2e python -m pytest -q e2e/test_end_to_end.py
suite install python -m pytest -q e2e/test_install.py e2e/test_run_local.py
suite fuzz python -m pytest -q -rs e2e/test_fuzz.py
suite dockerfiles hadolint services/tasks/Dockerfile services/requests/Dockerfile
suite shell check_shell_scripts
suite workflows check_workflows
suite pulumi-cli pulumi_cli_suite
suite engine engine_suite

printf '\n== summary\n'
for name in "${passed[@]}"; do echo "passed: $name"; done
for name in "${failed[@]}"; do echo "FAILED: $name"; done
[ "${#failed[@]}" -eq 0 ]
