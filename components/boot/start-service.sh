#!/usr/bin/env bash
# Boot path of a service host, run by the service's systemd unit at every start:
#   1. fetch the service's SecureString parameters from SSM into a root-only env file;
#   2. (re)start the container, pinned by digest, with that file and the plain settings file.
# Any failure (a missing parameter, an image that cannot be pulled) exits non-zero, and systemd retries the unit.
set -euo pipefail

: "${SERVICE_NAME:?}" "${IMAGE:?}" "${PORT:?}" "${AWS_REGION:?}" "${AWS_CLI_IMAGE:?}"
: "${PARAMETER_PATH:?}" "${CONFIG_FILE:?}" "${SECRETS_FILE:?}"
REQUIRED_PARAMETERS=${REQUIRED_PARAMETERS:-}

log() { echo "start-service[$SERVICE_NAME]: $*" >&2; }

# The AMI ships Docker but not the AWS CLI, so the CLI runs from its official image. Host networking lets it reach
# the instance metadata service without raising the IMDSv2 hop limit for the service's container.
aws_cli() {
  docker run --rm --network host "$AWS_CLI_IMAGE" --region "$AWS_REGION" "$@"
}

fetch_secrets() {
  local listing name value
  listing=$(aws_cli ssm get-parameters-by-path --path "$PARAMETER_PATH" --with-decryption \
    --query 'Parameters[].[Name,Value]' --output text)

  umask 077
  mkdir -p "$(dirname "$SECRETS_FILE")"
  # Global, so the EXIT trap still sees it after this function returns.
  tmp=$(mktemp "$SECRETS_FILE.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  while IFS=$'\t' read -r name value; do
    [ -n "$name" ] && printf '%s=%s\n' "${name##*/}" "$value" >>"$tmp"
  done <<<"$listing"

  for name in $REQUIRED_PARAMETERS; do
    if ! grep -q "^$name=" "$tmp"; then
      log "SSM parameter $PARAMETER_PATH/$name is missing; the unit fails and systemd retries it"
      return 1
    fi
  done
  mv "$tmp" "$SECRETS_FILE"
  trap - EXIT
  log "wrote $(wc -l <"$SECRETS_FILE") secrets to $SECRETS_FILE"
}

start_container() {
  docker rm --force "$SERVICE_NAME" >/dev/null 2>&1 || true
  docker run --detach --name "$SERVICE_NAME" \
    --restart unless-stopped \
    --env-file "$CONFIG_FILE" --env-file "$SECRETS_FILE" \
    --log-driver json-file --log-opt max-size=10m --log-opt max-file=5 \
    --publish "$PORT:$PORT" \
    "$IMAGE"
  log "started $IMAGE on port $PORT"
}

fetch_secrets
start_container
