#!/usr/bin/env bash
# Releases a service on its host without downtime, behind a reverse proxy (Caddy) on the service's public port.
#   release-service deploy       run by the SSM release document; its inputs come as SSM_* variables
#   release-service resume       run at boot by systemd: bring the current release back, secrets included
#   release-service proxy-init   write the proxy's first config if it has none (the proxy unit runs it)
#   release-service status       print the current release, the service's containers and the last log lines
#
# deploy: pull the image by digest while the old container serves, start the new one beside it on the other loopback
# slot, wait for its health, switch the proxy atomically, then stop the old one (SIGTERM: it drains). A release that
# is not healthy in time is removed, the old one keeps serving, and the script exits non-zero. Either way the outcome
# is recorded in an SSM parameter, which `pulumi up` waits for.
set -euo pipefail

config_file=${RELEASE_CONFIG:-/etc/release-service.env}
# shellcheck source=/dev/null
source "$config_file"
: "${SERVICE_NAME:?}" "${PORT:?}" "${HEALTH_PATH:?}" "${AWS_REGION:?}" "${AWS_CLI_IMAGE:?}" "${RECORD_PATH:?}"
: "${PROXY_NAME:?}" "${STATE_DIR:?}" "${RUN_DIR:?}"
KEEP_RELEASES=${KEEP_RELEASES:-3}
STOP_TIMEOUT_SECONDS=${STOP_TIMEOUT_SECONDS:-15}
BOOTSTRAP_TIMEOUT_SECONDS=${BOOTSTRAP_TIMEOUT_SECONDS:-600}

current_file="$STATE_DIR/current"
proxy_config="$STATE_DIR/proxy/caddy.json"
proxy_socket="$RUN_DIR/proxy/admin.sock"
# The two loopback ports a release alternates between, so the old and the new container can run side by side.
slot_ports=($((PORT + 10000)) $((PORT + 20000)))

log() { echo "release-service[$SERVICE_NAME]: $*" >&2; }

# Why the release failed, for the record; set before each step that can fail.
failure="the release script stopped unexpectedly"
new_container=""

fail() {
  failure=$1
  exit 1
}

# The AMI has Docker but not the AWS CLI, so it runs from its official image, on the host's network so that it
# reaches the instance metadata service (the service's containers cannot: IMDS hop limit 1). A host that has the
# CLI installed uses it directly.
aws_cli() {
  if command -v aws >/dev/null; then
    aws --region "$AWS_REGION" "$@"
  else
    docker run --rm --network host \
      --env AWS_ENDPOINT_URL --env AWS_ACCESS_KEY_ID --env AWS_SECRET_ACCESS_KEY --env AWS_SESSION_TOKEN \
      "$AWS_CLI_IMAGE" --region "$AWS_REGION" "$@"
  fi
}

instance_id() {
  if [ -n "${AWS_SSM_INSTANCE_ID:-}" ]; then
    echo "$AWS_SSM_INSTANCE_ID"
    return
  fi
  local token
  token=$(curl -fsS -m 2 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id
}

# Where a release stands, where `pulumi up` reads it: release=, status= (started, succeeded or failed), image=, at=,
# then reason= and logs on a failure.
record() {
  local status=$1 text
  text=$(printf 'release=%s\nstatus=%s\nimage=%s\nat=%s\n' "$release_id" "$status" "$image" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  if [ "$status" = failed ]; then
    text+=$(printf '\nreason=%s\nlogs:\n%s' "$failure" "${failure_logs:-}")
  fi
  # Standard parameters hold 4 KB; the reason comes first, so a long log is what gets cut.
  aws_cli ssm put-parameter --name "$RECORD_PATH/$(instance_id)" --type String --overwrite \
    --value "${text:0:4000}" >/dev/null
}

on_exit() {
  local code=$?
  [ "$code" -eq 0 ] && return
  log "${command:-release} $release_id failed: $failure"
  [ "$command" = deploy ] || return
  if [ -n "$new_container" ]; then
    failure_logs=$(docker logs --tail 20 "$new_container" 2>&1 || true)
    docker rm --force "$new_container" >/dev/null 2>&1 || true
    rm -rf "${RUN_DIR:?}/$release_id" "${STATE_DIR:?}/releases/$release_id"
    # An image pulled for this release only goes too; one a kept container uses stays.
    docker rmi "$image" >/dev/null 2>&1 || true
  fi
  record failed || log "could not record the failure in $RECORD_PATH"
}

# --- inputs -------------------------------------------------------------------------------------------------------

read_inputs() {
  if [ -z "${SSM_image+x}" ]; then
    fail "SSM_image is not set: the release document needs SSM Agent 3.3.2746.0 or later (environment variable parameters)"
  fi
  image=${SSM_image}
  release_id=${SSM_releaseId:-}
  settings=${SSM_settings:-}
  secrets=${SSM_secrets:-}
  health_timeout=${SSM_healthTimeoutSeconds:-120}
  [[ $release_id =~ ^[0-9a-f]{12}$ ]] || fail "releaseId \"$release_id\" must be 12 hexadecimal characters"
  [[ $image =~ ^[^[:space:]@]+@sha256:[0-9a-f]{64}$ ]] || fail "image \"$image\" must be pinned by digest"
  [[ $health_timeout =~ ^[1-9][0-9]*$ ]] || fail "healthTimeoutSeconds \"$health_timeout\" must be a positive number"
  local line
  while IFS= read -r line; do
    [ -z "$line" ] || [[ $line =~ ^[A-Z_][A-Z0-9_]*= ]] || fail "settings line \"${line%%=*}\" is not NAME=value"
  done <<<"$settings"
  while IFS= read -r line; do
    [ -z "$line" ] || [[ $line =~ ^[A-Z_][A-Z0-9_]*=/[^[:space:]:]+:[1-9][0-9]*$ ]] ||
      fail "secrets line \"$line\" is not NAME=/parameter/name:version"
  done <<<"$secrets"
}

# The current release, as the last successful deploy left it (empty values when there is none).
load_current() {
  current_release="" current_container="" current_slot="" current_image="" current_secrets=""
  [ -f "$current_file" ] || return 0
  local name value
  while IFS='=' read -r name value; do
    case $name in
      release) current_release=$value ;;
      container) current_container=$value ;;
      slot) current_slot=$value ;;
      image) current_image=$value ;;
    esac
  done <"$current_file"
  current_secrets=$(cat "$STATE_DIR/releases/$current_release/secrets" 2>/dev/null || true)
}

save_current() {
  mkdir -p "$STATE_DIR"
  printf 'release=%s\ncontainer=%s\nslot=%s\nimage=%s\n' "$release_id" "$new_container" "$slot" "$image" \
    >"$current_file.tmp"
  mv "$current_file.tmp" "$current_file"
}

# --- steps --------------------------------------------------------------------------------------------------------

wait_for_bootstrap() {
  local deadline=$((SECONDS + BOOTSTRAP_TIMEOUT_SECONDS))
  until [ -f "$STATE_DIR/bootstrapped" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the host's bootstrap (cloud-init) did not finish in ${BOOTSTRAP_TIMEOUT_SECONDS} s"
    sleep 2
  done
}

pull_image() {
  if docker image inspect "$image" >/dev/null 2>&1; then
    log "$image is on the host already; no pull"
    return
  fi
  failure="could not pull $image"
  docker pull --quiet "$image" >/dev/null
}

# Sets `owner` to the `uid:gid` of the image's USER, which must be numeric so the secret files can be given to it.
image_owner() {
  local user
  user=$(docker image inspect --format '{{.Config.User}}' "$image")
  case $user in
    "") owner=0:0 ;;
    *[!0-9:]* | :* | *: | *:*:*) fail "the image's USER \"$user\" must be a numeric uid or uid:gid" ;;
    *:*) owner=$user ;;
    *) owner=$user:$user ;;
  esac
}

# Each secret, at the exact parameter version the release names, into its own file on a tmpfs: mode 0600, owned
# by the image's user, mounted read-only at /run/secrets. Values never pass through arguments or the environment.
fetch_secrets() {
  local spec=$1 dir=$2 name reference
  case $(stat -f -c %T "$RUN_DIR") in
    tmpfs | ramfs) ;;
    *) fail "$RUN_DIR is not a tmpfs; secrets must not touch the disk" ;;
  esac
  rm -rf "$dir"
  (umask 077 && mkdir -p "$dir")
  while IFS='=' read -r name reference; do
    [ -n "$name" ] || continue
    failure="could not read the SSM parameter $reference"
    (umask 077 && aws_cli ssm get-parameter --name "$reference" --with-decryption \
      --query Parameter.Value --output text >"$dir/$name")
    # The CLI ends its text output with a newline the value did not have.
    truncate -s -1 "$dir/$name"
  done <<<"$spec"
  chown -R "$owner" "$dir"
  chmod 0700 "$dir"
}

# The container's plain environment: the settings, and NAME_FILE pointing at each secret's file.
write_environment() {
  local dir="$STATE_DIR/releases/$release_id" name
  mkdir -p "$dir"
  {
    [ -z "$settings" ] || printf '%s\n' "$settings"
    while IFS='=' read -r name _; do
      [ -z "$name" ] || printf '%s_FILE=/run/secrets/%s\n' "$name" "$name"
    done <<<"$secrets"
  } >"$dir/environment"
  printf '%s\n' "$secrets" >"$dir/secrets"
}

start_container() {
  failure="could not start a container from $image"
  docker rm --force "$new_container" >/dev/null 2>&1 || true
  docker run --detach --name "$new_container" \
    --restart unless-stopped \
    --env-file "$STATE_DIR/releases/$release_id/environment" \
    --mount "type=bind,source=$RUN_DIR/$release_id,target=/run/secrets,readonly" \
    --publish "127.0.0.1:${slot_ports[$slot]}:$PORT" \
    --label "release-service.service=$SERVICE_NAME" --label "release-service.release=$release_id" \
    --log-driver json-file --log-opt max-size=10m --log-opt max-file=5 \
    "$image" >/dev/null
}

# Healthy: GET HEALTH_PATH answers 200 on the container's loopback slot. A container that exits or restarts fails
# at once instead of waiting out the timeout.
wait_healthy() {
  local container=$1 port=$2 timeout=$3 state_name restarts exit_code first_restarts code
  local deadline=$((SECONDS + timeout)) last="no answer yet"
  first_restarts=$(docker inspect --format '{{.RestartCount}}' "$container")
  while [ "$SECONDS" -lt "$deadline" ]; do
    read -r state_name restarts exit_code \
      <<<"$(docker inspect --format '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}' "$container")"
    if [ "$state_name" = exited ] || [ "$state_name" = dead ]; then
      fail "the container exited with code $exit_code before it was healthy"
    fi
    if [ "$restarts" -gt "$first_restarts" ]; then
      fail "the container crashed and was restarted before it was healthy (a crash loop)"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$port$HEALTH_PATH" || true)
    [ "$code" = 200 ] && return 0
    [ "$code" = 000 ] && last="no answer" || last="HTTP $code"
    sleep 1
  done
  fail "GET $HEALTH_PATH did not answer 200 within $timeout s (last: $last)"
}

# The proxy's whole config: the public port, and either the upstream or a JSON 503 while there is no release.
render_proxy_config() {
  local upstream=$1 handler
  if [ -n "$upstream" ]; then
    handler=$(printf '{"handler": "reverse_proxy", "upstreams": [{"dial": "%s"}]}' "$upstream")
  else
    handler='{"handler": "static_response", "status_code": 503, "headers": {"Content-Type": ["application/json"]}, "body": "{\"error\": \"no release yet\", \"details\": []}"}'
  fi
  cat <<JSON
{
  "admin": {"listen": "unix/$RUN_DIR/proxy/admin.sock", "origins": ["localhost"]},
  "apps": {"http": {"servers": {"$SERVICE_NAME": {
    "listen": [":$PORT"],
    "automatic_https": {"disable": true},
    "routes": [{"handle": [$handler]}]
  }}}}
}
JSON
}

# The proxy's config file, which it reads when it starts; replaced whole, so a start never reads half of it.
write_proxy_config() {
  mkdir -p "$(dirname "$proxy_config")"
  render_proxy_config "$1" >"$proxy_config.tmp"
  mv "$proxy_config.tmp" "$proxy_config"
}

# Points the proxy at an upstream: the file for its next start, and the admin API for now (an atomic, graceful
# reload: requests in flight finish on the old upstream).
switch_proxy() {
  local upstream=$1
  failure="could not switch the proxy to $upstream"
  write_proxy_config "$upstream"
  curl -fsS -m 30 --unix-socket "$proxy_socket" -H 'Content-Type: application/json' \
    --data-binary "@$proxy_config" http://localhost/load >/dev/null
}

proxy_init() {
  mkdir -p "$RUN_DIR/proxy"
  [ -f "$proxy_config" ] || write_proxy_config ""
}

wait_for_proxy() {
  local deadline=$((SECONDS + 60))
  until curl -fsS -m 2 --unix-socket "$proxy_socket" http://localhost/config/ >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the proxy's admin API at $proxy_socket did not answer in 60 s"
    sleep 1
  done
}

# Keeps the newest KEEP_RELEASES stopped containers, and so their images, for a rollback without a pull; removes
# the older ones with their images (`docker rmi` refuses an image another container still uses).
prune() {
  local name release image_id keep=$KEEP_RELEASES
  while read -r name release; do
    [ "$name" = "$new_container" ] && continue
    if [ "$keep" -gt 0 ]; then
      keep=$((keep - 1))
      continue
    fi
    image_id=$(docker inspect --format '{{.Image}}' "$name")
    docker rm --force "$name" >/dev/null
    rm -rf "${STATE_DIR:?}/releases/$release"
    docker rmi "$image_id" >/dev/null 2>&1 || true
  done < <(docker ps --all --filter "label=release-service.service=$SERVICE_NAME" \
    --format '{{.Names}} {{.Label "release-service.release"}}')
}

# --- commands -----------------------------------------------------------------------------------------------------

deploy() {
  read_inputs
  exec 9>"$STATE_DIR/lock"
  flock 9
  wait_for_bootstrap
  record started
  load_current
  if [ "$release_id" = "$current_release" ]; then
    log "release $release_id is the current one; making sure it runs"
    resume_current
    record succeeded
    return
  fi

  log "release $release_id: $image"
  pull_image
  new_container="$SERVICE_NAME-$release_id"
  slot=0
  [ "$current_slot" = 0 ] && slot=1
  write_environment
  image_owner
  fetch_secrets "$secrets" "$RUN_DIR/$release_id"
  start_container
  wait_healthy "$new_container" "${slot_ports[$slot]}" "$health_timeout"
  wait_for_proxy
  switch_proxy "127.0.0.1:${slot_ports[$slot]}"
  save_current
  log "release $release_id serves on port $PORT"

  if [ -n "$current_container" ]; then
    log "stopping $current_container (it drains its requests first)"
    docker stop --time "$STOP_TIMEOUT_SECONDS" "$current_container" >/dev/null || true
    rm -rf "${RUN_DIR:?}/$current_release"
  fi
  prune
  record succeeded
}

# Brings the current release back after a reboot or a Docker restart: its secrets are gone with the tmpfs, so
# they are fetched again (same versions), then the container starts and the proxy points at it.
resume_current() {
  release_id=$current_release image=$current_image
  image_owner
  fetch_secrets "$current_secrets" "$RUN_DIR/$current_release"
  failure="could not start $current_container"
  docker start "$current_container" >/dev/null
  wait_healthy "$current_container" "${slot_ports[$current_slot]}" 120
  wait_for_proxy
  switch_proxy "127.0.0.1:${slot_ports[$current_slot]}"
}

resume() {
  exec 9>"$STATE_DIR/lock"
  flock 9
  load_current
  if [ -z "$current_release" ]; then
    log "no release yet"
    return
  fi
  resume_current
  log "release $current_release is back on port $PORT"
}

status() {
  load_current
  echo "current release: ${current_release:-none} (${current_image:-no image})"
  docker ps --all --filter "name=^$PROXY_NAME\$" --format 'proxy: {{.Names}} {{.Status}} ({{.Image}})'
  docker ps --all --filter "label=release-service.service=$SERVICE_NAME" \
    --format 'table {{.Names}}\t{{.Status}}\t{{.Image}}'
  if [ -n "$current_container" ]; then
    echo "last log lines of $current_container:"
    docker logs --tail 20 "$current_container" 2>&1
  fi
}

mkdir -p "$STATE_DIR" "$RUN_DIR"
release_id="" image="" command=${1:-}
trap on_exit EXIT
case $command in
  deploy) deploy ;;
  resume) resume ;;
  proxy-init) proxy_init ;;
  status) status ;;
  *)
    echo "usage: release-service deploy|resume|proxy-init|status" >&2
    exit 2
    ;;
esac
