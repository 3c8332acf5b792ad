#!/usr/bin/env bash
# Deploys one stack (default: dev) with `pulumi up`. The state goes to a local file backend unless
# PULUMI_BACKEND_URL names another, so no Pulumi account is needed. It first refuses a stack file that holds a secret
# in plain text; a new stack is created with the stack file's secrets provider (a KMS key for dev and prod). A stack
# with no deployerArns gets, once you confirm it at a terminal, the IAM user or role you are signed in as (the AWS CLI
# tells). A stack with no callers of a service gets one at a terminal, `admin`, which may write, whose key is printed
# once (scripts/api-keys.sh); the requests service's own key to tasks is made when the stack has none. Then missing
# secrets are asked for, or taken from the environment (see scripts/stack-secrets.sh).
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

# A setting of the stack file, as JSON; nothing when it is unset or empty. Read from the file, since every
# `pulumi config get` fails while a required key is unset.
stack_setting() {
  # shellcheck disable=SC2016 # JavaScript, not shell, between the single quotes
  node -e '
    const config = require("yaml").parse(require("fs").readFileSync(process.argv[1], "utf8"))?.config ?? {};
    const value = config[`microservices:${process.argv[2]}`] ?? config[process.argv[2]];
    if (value !== undefined && value !== "" && !(Array.isArray(value) && value.length === 0)) console.log(JSON.stringify(value));' \
    "$stack_file" "$1"
}
# Whether the stack file sets both images, by digest: then the program builds nothing.
images_given() { [ -n "$(stack_setting tasksImage)" ] && [ -n "$(stack_setting requestsImage)" ]; }
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

# The IAM user or role behind a caller's ARN (aws sts get-caller-identity), as deployerArns names it: an assumed
# role by its role's ARN, with its path when IAM tells it. Fails for the root user and federated users.
deployer_arn() {
  local caller=$1 role partition account
  case $caller in
    arn:*:iam::*:user/*) echo "$caller" ;;
    arn:*:sts::*:assumed-role/*/*)
      role=${caller#*:assumed-role/} partition=${caller#arn:} account=${caller#*:sts::}
      aws iam get-role --role-name "${role%%/*}" --query Role.Arn --output text 2>/dev/null ||
        echo "arn:${partition%%:*}:iam::${account%%:*}:role/${role%%/*}"
      ;;
    *) return 1 ;;
  esac
}

# deployerArns names who runs `pulumi up` for the stack (its secrets' keys let only them administer them). For a
# stack without it, sets `deployer` to the caller once confirmed at a terminal; elsewhere shows the command to set it.
ask_deployer() {
  deployer=""
  [ -z "$(stack_setting deployerArns)" ] || return 0
  local caller arn answer set_command="pulumi config set --stack $stack --path 'deployerArns[0]'"
  command -v aws >/dev/null ||
    fail "stack $stack has no deployerArns, the IAM users or roles that deploy it; set yours: $set_command ARN"
  caller=$(aws sts get-caller-identity --query Arn --output text) ||
    fail "stack $stack has no deployerArns, and the AWS CLI could not tell who you are (aws sts get-caller-identity)"
  arn=$(deployer_arn "$caller") ||
    fail "stack $stack has no deployerArns, and you are signed in as $caller, which it cannot name: sign in as an IAM user or role"
  [ -t 0 ] || fail "stack $stack has no deployerArns, the IAM users or roles that deploy it; to make it you: $set_command $arn"
  read -rp "Stack $stack has no deployerArns, the IAM users or roles that deploy it. Set it to you, $arn? [Y/n] " answer
  [[ $answer =~ ^([Yy]|[Yy]es)?$ ]] || fail "deployerArns not set; set it yourself: $set_command ARN"
  deployer=$arn
}
ask_deployer

# Services with no callers, which refuse to start: none set in the stack file nor in the environment (CI).
callerless=()
[ -n "$(stack_setting tasksApiCallers)" ] || [ -n "${TASKS_API_CALLERS:-}" ] || callerless+=(tasks)
[ -n "$(stack_setting requestsApiCallers)" ] || [ -n "${REQUESTS_API_CALLERS:-}" ] || callerless+=(requests)
if [ "${#callerless[@]}" -gt 0 ] && ! [ -t 0 ]; then
  fail "stack $stack has no callers of ${callerless[*]}, which would refuse to start; make one at a terminal: scripts/api-keys.sh $stack ${callerless[0]} add CALLER --write"
fi

pulumi login "$PULUMI_BACKEND_URL" >/dev/null
# A new stack takes the secrets provider its file names (a KMS key), never a passphrase over it.
provider=$(sed -n 's/^secretsprovider: *//p' "$stack_file")
pulumi stack select --create ${provider:+--secrets-provider "$provider"} "$stack" ||
  fail "could not select or create stack $stack${provider:+ with the secrets provider $provider (a KMS key must exist first: docs/ci-cd.md, \"Secrets provider\"; or drop the line from $stack_file for a passphrase)}"
[ -z "$deployer" ] || pulumi config set --stack "$stack" --path 'deployerArns[0]' "$deployer"
for service in ${callerless[@]+"${callerless[@]}"}; do
  echo "deploy: $service has no callers yet; making the caller admin, which may write:"
  scripts/api-keys.sh "$stack" "$service" add admin --write
done
# The requests service's key to tasks is the program's own business: made here, never shown.
if [ -z "$(stack_setting requestsTasksApiKey)" ] && [ -z "${REQUESTS_TASKS_API_KEY:-}" ]; then
  # shellcheck disable=SC2016 # JavaScript, not shell, between the single quotes
  node -e 'process.stdout.write(`msk_${require("crypto").randomBytes(32).toString("base64url")}`)' |
    pulumi config set --secret --stack "$stack" requestsTasksApiKey
fi
scripts/stack-secrets.sh "$stack"
pulumi up --stack "$stack" "$@"
