#!/usr/bin/env bash
# Deploys one stack (default: dev) with `pulumi up`. The state goes to a local file backend unless
# PULUMI_BACKEND_URL names another, so no Pulumi account is needed. It first refuses a stack file that holds a secret
# in plain text; then missing secrets are asked for, or taken from the environment (see scripts/stack-secrets.sh).
# Docker is needed only when the stack builds an image, that is unless it sets both tasksImage and requestsImage.
# Extra arguments go to `pulumi up`, e.g. --yes.
#   scripts/deploy.sh [STACK] [pulumi up options]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
stack=${1:-dev}
[ $# -gt 0 ] && shift
stack_file=Pulumi.$stack.yaml

fail() {
  echo "deploy: $*" >&2
  exit 1
}

command -v pulumi >/dev/null || fail "the Pulumi CLI is not installed: https://www.pulumi.com/docs/install/"
command -v npm >/dev/null || fail "Node.js and npm are not installed: https://nodejs.org/"
[ -f "$stack_file" ] || fail "there is no $stack_file; see 'Add a stack' in docs/configuration.md"
[ -d node_modules ] || npm ci --no-audit --no-fund
scripts/stack-secrets.sh --check "$stack"

# Whether the stack file sets both images, by digest: then the program builds nothing.
images_given() {
  # shellcheck disable=SC2016 # JavaScript, not shell, between the single quotes
  node -e '
    const config = require("yaml").parse(require("fs").readFileSync(process.argv[1], "utf8"))?.config ?? {};
    process.exit(["tasksImage", "requestsImage"].every((key) => config[`microservices:${key}`] ?? config[key]) ? 0 : 1);' "$stack_file"
}
if ! images_given; then
  docker info >/dev/null 2>&1 ||
    fail "Docker is not running; it builds the images (or set tasksImage and requestsImage to release given digests)"
fi

export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}
if [[ $PULUMI_BACKEND_URL == file://* ]]; then
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
fi
# A stack file without its encryptionsalt takes it back from the state instead of starting a new one.
export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=${PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER:-true}
echo "deploy: stack $stack, state in $PULUMI_BACKEND_URL"

# With a passphrase (the default outside Pulumi Cloud) each pulumi command asks for it again, so at a terminal ask
# once for them all, and twice when the stack file has no salt yet.
if [ -t 0 ] && [[ $PULUMI_BACKEND_URL != https://* ]] && ! grep -q '^secretsprovider:' "$stack_file" &&
  [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  read -rsp "Passphrase of stack $stack's secrets: " PULUMI_CONFIG_PASSPHRASE
  echo
  if ! grep -q '^encryptionsalt:' "$stack_file"; then
    read -rsp "Once more: " again
    echo
    [ "$again" = "$PULUMI_CONFIG_PASSPHRASE" ] || fail "the two passphrases differ"
  fi
  export PULUMI_CONFIG_PASSPHRASE
fi

pulumi login "$PULUMI_BACKEND_URL" >/dev/null
pulumi stack select --create "$stack"
scripts/stack-secrets.sh "$stack"
pulumi up --stack "$stack" "$@"
