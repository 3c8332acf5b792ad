#!/usr/bin/env bash
# Makes sure a stack has every secret and required setting, without ever writing a secret to a committed file:
# each missing key is set from its environment variable (CI), or asked for at the terminal (a person), with
# `pulumi config set --secret`, which encrypts it. Exits non-zero, naming every key it could not set.
#   scripts/stack-secrets.sh STACK
set -euo pipefail

stack=${1:?usage: stack-secrets.sh STACK}

# config key  environment variable  secret?
keys=(
  "dockerHubUsername DOCKERHUB_USERNAME plain"
  "dockerHubToken DOCKERHUB_TOKEN secret"
  "mongodbUri MONGODB_URI secret"
  "postgresUrl POSTGRES_URL secret"
  "logseneToken LOGSENE_TOKEN secret"
  "papertrailDestination PAPERTRAIL_DESTINATION secret"
)

missing=()
for entry in "${keys[@]}"; do
  read -r key variable kind <<<"$entry"
  flag=()
  [ "$kind" = secret ] && flag=(--secret)
  if [ -n "${!variable:-}" ]; then
    # Through stdin, so the value never shows in the process list.
    printf '%s' "${!variable}" | pulumi config set --stack "$stack" "${flag[@]}" "$key"
  elif pulumi config get --stack "$stack" "$key" >/dev/null 2>&1; then
    continue
  elif [ -t 0 ]; then
    echo "Stack $stack needs $key (or set $variable in the environment)."
    pulumi config set --stack "$stack" "${flag[@]}" "$key"
  else
    missing+=("$key (environment variable $variable)")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "Stack $stack is missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
