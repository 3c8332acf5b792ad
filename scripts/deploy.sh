#!/usr/bin/env bash
# Deploys one stack (default: dev) with `pulumi up`. The state goes to a local file backend unless
# PULUMI_BACKEND_URL names another, so no Pulumi account is needed. Missing secrets are asked for, or taken from
# the environment (see scripts/stack-secrets.sh). Extra arguments go to `pulumi up`, e.g. --yes.
#   scripts/deploy.sh [STACK] [pulumi up options]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
stack=${1:-dev}
[ $# -gt 0 ] && shift

fail() {
  echo "deploy: $*" >&2
  exit 1
}

command -v pulumi >/dev/null || fail "the Pulumi CLI is not installed: https://www.pulumi.com/docs/install/"
command -v npm >/dev/null || fail "Node.js and npm are not installed: https://nodejs.org/"
docker info >/dev/null 2>&1 || fail "Docker is not running; the images are built locally before they are pushed"
[ -f "Pulumi.$stack.yaml" ] || fail "there is no Pulumi.$stack.yaml; see 'Add a stack' in README.md"

export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}
if [[ $PULUMI_BACKEND_URL == file://* ]]; then
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
fi
echo "deploy: stack $stack, state in $PULUMI_BACKEND_URL"

[ -d node_modules ] || npm ci --no-audit --no-fund
pulumi login "$PULUMI_BACKEND_URL" >/dev/null
pulumi stack select --create "$stack"
scripts/stack-secrets.sh "$stack"
pulumi up --stack "$stack" "$@"
