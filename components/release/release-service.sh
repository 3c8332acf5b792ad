#!/usr/bin/env bash
# Releases a service on its host without downtime, behind a reverse proxy (Caddy) that serves HTTPS with a certificate
# it obtains and renews itself, and the service's port in plain HTTP to peers in the VPC.
#   release-service bootstrap    run once by cloud-init: pull the helper images, restore the service's certificates,
#                                start the proxy, mark the host ready
#   release-service deploy       run by the SSM release document; its inputs come as SSM_* variables
#   release-service resume       run at boot by systemd: bring the current release back, secrets included
#   release-service proxy-init   before each proxy start: let queued connections survive a reload, write a first config
#   release-service proxy-config [UPSTREAM]   print the proxy's config for an upstream (none: the 503 of a new host)
#   release-service certificates run every minute by a timer: on the host that holds the Elastic IP, keep the
#                                certificate store up to date, and start the first certificate when there is none
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
: "${PROXY_NAME:?}" "${PROXY_IMAGE:?}" "${RELEASE_UNIT:?}" "${STATE_DIR:?}" "${RUN_DIR:?}"
: "${PROXY_READ_HEADER_TIMEOUT:?}" "${PROXY_READ_TIMEOUT:?}" "${PROXY_IDLE_TIMEOUT:?}" "${PROXY_MAX_HEADER_BYTES:?}"
: "${PROXY_REQUEST_BUFFER_BYTES:?}" "${SITE_NAME:?}" "${PUBLIC_IP:?}" "${HTTPS_PORT:?}" "${HTTP_PORT:?}" "${ACME_CA:?}"
: "${ACME_PROFILE?}" "${ACME_EMAIL?}" "${CERTIFICATE_RENEW_INTERVAL:?}" "${CERTIFICATE_STORE:?}"
: "${CERTIFICATE_STORE_KEY:?}" "${CERTIFICATES_TIMER:?}"
KEEP_RELEASES=${KEEP_RELEASES:-3}
STOP_TIMEOUT_SECONDS=${STOP_TIMEOUT_SECONDS:-15}
BOOTSTRAP_TIMEOUT_SECONDS=${BOOTSTRAP_TIMEOUT_SECONDS:-600}
# A pull is tried this many times, the waits between tries doubling from PULL_RETRY_SECONDS: Docker Hub has bad minutes.
PULL_ATTEMPTS=${PULL_ATTEMPTS:-4}
PULL_RETRY_SECONDS=${PULL_RETRY_SECONDS:-5}

current_file="$STATE_DIR/current"
bootstrapped_mark="$STATE_DIR/bootstrapped"
bootstrap_failure="$STATE_DIR/bootstrap-failed"
proxy_config="$STATE_DIR/proxy/caddy.json"
proxy_socket="$RUN_DIR/proxy/admin.sock"
# Caddy's storage: certificates, the ACME account, locks. On the host's disk, so certificates outlive the container.
proxy_data="$STATE_DIR/proxy-data"
# The digest of the certificates on disk when they last matched the store, and the mark of the one nudge a host
# gives its proxy to obtain a first certificate once it holds the address.
certificates_synced="$STATE_DIR/certificates-synced"
certificates_nudged="$STATE_DIR/certificates-nudged"
imds=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
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
# CLI installed uses it directly. `aws_cli --stdin ...` hands it this script's standard input (a value that must not
# be an argument); otherwise its container gets none, so it never eats the input of a loop around it.
aws_cli() {
  local stdin=()
  if [ "${1:-}" = --stdin ]; then
    stdin=(--interactive)
    shift
  fi
  if command -v aws >/dev/null; then
    aws --region "$AWS_REGION" "$@"
  else
    docker run --rm "${stdin[@]}" --network host \
      --env AWS_ENDPOINT_URL --env AWS_ACCESS_KEY_ID --env AWS_SECRET_ACCESS_KEY --env AWS_SESSION_TOKEN \
      "$AWS_CLI_IMAGE" --region "$AWS_REGION" "$@"
  fi
}

# One item of the instance metadata (IMDSv2).
metadata() {
  local token
  token=$(curl -fsS -m 2 -X PUT "$imds/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/$1"
}

instance_id() {
  if [ -n "${AWS_SSM_INSTANCE_ID:-}" ]; then
    echo "$AWS_SSM_INSTANCE_ID"
    return
  fi
  metadata instance-id
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

# The start's record is written while the release goes on, as each record is a start of the AWS CLI, the most of a
# rollback's time; it always lands before the outcome's.
record_start() {
  record started &
  start_recorder=$!
}

start_recorded() {
  [ -n "${start_recorder:-}" ] || return 0
  local pid=$start_recorder
  start_recorder=""
  wait "$pid" || fail "could not record the release's start in $RECORD_PATH"
}

# A failed container's start-up error comes first and its health checks' lines last: keep both ends.
first_and_last_lines() {
  awk -v keep="$1" '
    NR <= keep { print; next }
    { last[NR % keep] = $0 }
    END {
      if (NR > 2 * keep) print "[" NR - 2 * keep " lines left out]"
      for (n = (NR > 2 * keep ? NR - keep + 1 : keep + 1); n <= NR; n++) print last[n % keep]
    }'
}

on_exit() {
  local code=$?
  [ "$code" -eq 0 ] && return
  log "${command:-release}${release_id:+ $release_id} failed: $failure"
  if [ "$command" = bootstrap ]; then
    printf '%s\n' "$failure" >"$bootstrap_failure"
    return
  fi
  [ "$command" = deploy ] || return
  if [ -n "$new_container" ]; then
    failure_logs=$(docker logs "$new_container" 2>&1 | first_and_last_lines 10 || true)
    docker rm --force "$new_container" >/dev/null 2>&1 || true
    rm -rf "${RUN_DIR:?}/$release_id" "${STATE_DIR:?}/releases/$release_id"
    # An image pulled for this release only goes too; one a kept container uses stays.
    docker rmi "$image" >/dev/null 2>&1 || true
  fi
  [ -z "${start_recorder:-}" ] || wait "$start_recorder" || true
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

# A host whose bootstrap failed fails the release at once, with the bootstrap's reason.
wait_for_bootstrap() {
  local deadline=$((SECONDS + BOOTSTRAP_TIMEOUT_SECONDS))
  until [ -f "$bootstrapped_mark" ]; do
    [ ! -f "$bootstrap_failure" ] || fail "the host's bootstrap failed: $(cat "$bootstrap_failure")"
    [ "$SECONDS" -lt "$deadline" ] || fail "the host's bootstrap (cloud-init) did not finish in ${BOOTSTRAP_TIMEOUT_SECONDS} s"
    sleep 1
  done
}

# Pulls an image unless the host has it (a rollback, a rerun), retrying with growing waits; fails with Docker's reason.
ensure_image() {
  local wanted=$1 attempt=1 wait=$PULL_RETRY_SECONDS output
  if docker image inspect "$wanted" >/dev/null 2>&1; then
    log "$wanted is on the host already; no pull"
    return
  fi
  until output=$(docker pull --quiet "$wanted" 2>&1); do
    output=${output//$'\n'/ }
    [ "$attempt" -lt "$PULL_ATTEMPTS" ] || fail "could not pull $wanted ($attempt attempts): $output"
    log "pull $attempt of $wanted failed ($output); trying again in $wait s"
    sleep "$wait"
    attempt=$((attempt + 1)) wait=$((wait * 2))
  done
}

# Checks the image's signature with cosign (its image, pinned by digest, on the host's network) against the release's
# imageSigner: keyless, the GitHub workflow its URL names (Sigstore's certificate and transparency log, their trust
# root fetched through TUF); or the PEM public key it holds, with no log; or "none", no check. A refused image is
# removed (unless a kept container uses it). A verified one is remembered with its signer, so a rollback to it verifies
# without the registry.
verify_image() {
  local signer=${SSM_imageSigner:-} mark output reason args=() key=() who
  case $signer in
    none)
      log "imageSigner is none: $image runs without a signature check"
      return
      ;;
    https://github.com/*)
      [[ $signer =~ ^https://github\.com/([^/]+/[^/]+)/\.github/workflows/[^/@]+@refs/[^[:space:]]+$ ]] ||
        fail "imageSigner \"$signer\" is not a GitHub workflow's URL, https://github.com/OWNER/REPO/.github/workflows/FILE@REF"
      who=$signer
      args=(--certificate-identity "$signer" --certificate-oidc-issuer https://token.actions.githubusercontent.com
        --certificate-github-workflow-repository "${BASH_REMATCH[1]}" --certificate-github-workflow-trigger push)
      ;;
    "-----BEGIN PUBLIC KEY-----"*)
      # Through the environment, so the key needs no file: cosign reads env:// references.
      who="the public key of imageSigner"
      key=(--env "IMAGE_SIGNER_KEY=$signer")
      args=(--key env://IMAGE_SIGNER_KEY --insecure-ignore-tlog)
      ;;
    *) fail "imageSigner must be none, a GitHub workflow's URL or a PEM public key; the release gives \"${signer:0:40}\"" ;;
  esac
  mark="$STATE_DIR/verified/$(printf '%s\n%s' "$image" "$signer" | sha256sum | cut -c1-64)"
  if [ -f "$mark" ]; then
    log "$image was verified against this signer before; no check"
    return
  fi
  [ -n "${COSIGN_IMAGE:-}" ] || fail "COSIGN_IMAGE is not set in $config_file"
  ensure_image "$COSIGN_IMAGE"
  if ! output=$(docker run --rm --network host --cap-drop ALL "${key[@]}" "$COSIGN_IMAGE" \
    verify "${args[@]}" --output text "$image" 2>&1); then
    docker rmi "$image" >/dev/null 2>&1 || true
    # cosign's own first error line, or else all it said (Docker's, when cosign did not even start).
    reason=$(sed -n 's/^Error: //p' <<<"$output" | head -n 1)
    fail "no valid signature by $who: ${reason:-${output//$'\n'/ }}"
  fi
  mkdir -p "$STATE_DIR/verified"
  touch "$mark"
  log "$image is signed by $who"
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
# They are read into a staging folder first and then renamed into place one by one, so a container that already
# mounts the folder (a rerun of the current release) reads either the old file or the new one, never none.
fetch_secrets() {
  local spec=$1 dir=$2 staging="$2.staging" name reference error
  case $(stat -f -c %T "$RUN_DIR") in
    tmpfs | ramfs) ;;
    *) fail "$RUN_DIR is not a tmpfs; secrets must not touch the disk" ;;
  esac
  rm -rf "$staging"
  (umask 077 && mkdir -p "$dir" "$staging")
  # All at once: each read is a start of the AWS CLI, which is most of a rollback's time.
  local -A readers=()
  while IFS='=' read -r name reference; do
    [ -n "$name" ] || continue
    (umask 077 && aws_cli ssm get-parameter --name "$reference" --with-decryption \
      --query Parameter.Value --output text >"$staging/$name" 2>"$staging/.$name.error") &
    readers[$name]="$!:$reference"
  done <<<"$spec"
  for name in "${!readers[@]}"; do
    reference=${readers[$name]#*:}
    if ! wait "${readers[$name]%%:*}"; then
      error=$(cat "$staging/.$name.error")
      wait || true
      rm -rf "$staging"
      fail "could not read the SSM parameter $reference: ${error//$'\n'/ }"
    fi
    rm -f "$staging/.$name.error"
    # The CLI ends its text output with a newline the value did not have.
    truncate -s -1 "$staging/$name"
  done
  chown -R "$owner" "$dir" "$staging"
  chmod 0700 "$dir"
  for name in "$staging"/*; do
    [ ! -e "$name" ] || mv -f "$name" "$dir/"
  done
  rmdir "$staging"
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

# No restart policy until it is healthy: a container that exits before then is a failed release, with its exit code.
start_container() {
  failure="could not start a container from $image"
  docker rm --force "$new_container" >/dev/null 2>&1 || true
  docker run --detach --name "$new_container" \
    --restart no \
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
    # Often enough that a container healthy at once (a rollback's) serves within a second of its start.
    sleep 0.25
  done
  fail "GET $HEALTH_PATH did not answer 200 within $timeout s (last: $last)"
}

# Healthy and serving: from now on Docker restarts it whenever it stops, unless a release stopped it.
keep_running() {
  failure="could not give $new_container its restart policy"
  docker update --restart unless-stopped "$new_container" >/dev/null
}

# The proxy's whole config. Three servers, each with the limits on slow clients:
# - https on HTTPS_PORT: the site's certificate (also to clients that send no server name, as clients of an IP
#   address do), HSTS, and either the upstream (reached only with a whole request: the proxy reads the body first, up
#   to PROXY_REQUEST_BUFFER_BYTES) or a JSON 503 while there is no release. HTTP/1.1 and HTTP/2 only: the security
#   group opens no UDP for HTTP/3;
# - redirect on HTTP_PORT: a 308 to https://SITE_NAME, and the ACME HTTP challenges (Caddy answers those first);
# - private on PORT: the same upstream in plain HTTP, for peers in the VPC.
# The certificate: Caddy obtains and renews it over ACME with the HTTP challenge only (the TLS-ALPN one would need
# port 443 open to the CA's unpublished addresses), under ACME_PROFILE when set (an IP address needs shortlived).
render_proxy_config() {
  local upstream=$1 handler issuer limits
  if [ -n "$upstream" ]; then
    handler=$(printf '{"handler": "reverse_proxy", "request_buffers": %s, "upstreams": [{"dial": "%s"}]}' \
      "$PROXY_REQUEST_BUFFER_BYTES" "$upstream")
  else
    handler='{"handler": "static_response", "status_code": 503, "headers": {"Content-Type": ["application/json"]}, "body": "{\"error\": \"no release yet\", \"details\": []}"}'
  fi
  issuer=$(printf '{"module": "acme", "ca": "%s"%s%s, "challenges": {"tls-alpn": {"disabled": true}}}' "$ACME_CA" \
    "${ACME_EMAIL:+, \"email\": \"$ACME_EMAIL\"}" "${ACME_PROFILE:+, \"profile\": \"$ACME_PROFILE\"}")
  limits=$(printf '"read_header_timeout": "%s", "read_timeout": "%s", "idle_timeout": "%s", "max_header_bytes": %s, "automatic_https": {"disable": true}' \
    "$PROXY_READ_HEADER_TIMEOUT" "$PROXY_READ_TIMEOUT" "$PROXY_IDLE_TIMEOUT" "$PROXY_MAX_HEADER_BYTES")
  cat <<JSON
{
  "admin": {"listen": "unix/$RUN_DIR/proxy/admin.sock", "origins": ["localhost"]},
  "storage": {"module": "file_system", "root": "$proxy_data"},
  "apps": {
    "http": {"http_port": $HTTP_PORT, "https_port": $HTTPS_PORT, "servers": {
      "https": {"listen": [":$HTTPS_PORT"], $limits, "protocols": ["h1", "h2"],
        "tls_connection_policies": [{"default_sni": "$SITE_NAME"}],
        "routes": [{"handle": [
          {"handler": "headers", "response": {"set": {"Strict-Transport-Security": ["max-age=31536000"]}, "deferred": true}},
          $handler]}]},
      "redirect": {"listen": [":$HTTP_PORT"], $limits,
        "routes": [{"handle": [{"handler": "static_response", "status_code": 308, "headers": {"Location": ["https://$SITE_NAME{http.request.uri}"]}}]}]},
      "private": {"listen": [":$PORT"], $limits, "routes": [{"handle": [$handler]}]}
    }},
    "tls": {
      "certificates": {"automate": ["$SITE_NAME"]},
      "automation": {"renew_interval": "$CERTIFICATE_RENEW_INTERVAL", "policies": [{"subjects": ["$SITE_NAME"], "issuers": [$issuer]}]}
    },
    "pki": {"certificate_authorities": {"local": {"install_trust": false}}}
  }
}
JSON
}

# The proxy's config for an upstream, written beside the file its next start reads; `mv` then replaces that file whole,
# so a start never reads half of it.
stage_proxy_config() {
  mkdir -p "$(dirname "$proxy_config")"
  render_proxy_config "$1" >"$proxy_config.next"
}

# Points the proxy at an upstream through its admin API (an atomic, graceful reload: requests in flight finish on the
# old upstream), then keeps that config in the file its next start reads. A load the proxy refuses leaves the file
# as it was, pointing at the container that still serves.
switch_proxy() {
  local upstream=$1 answer
  stage_proxy_config "$upstream"
  if ! answer=$(curl -sS -m 30 --fail-with-body --unix-socket "$proxy_socket" -H 'Content-Type: application/json' \
    --data-binary "@$proxy_config.next" http://localhost/load 2>&1); then
    rm -f "$proxy_config.next"
    fail "could not switch the proxy to $upstream: ${answer//$'\n'/ }"
  fi
  mv "$proxy_config.next" "$proxy_config"
}

proxy_init() {
  # Caddy reloads with SO_REUSEPORT: without this, connections waiting in the old listener's queue are reset.
  sysctl -qw net.ipv4.tcp_migrate_req=1 ||
    log "warning: could not set net.ipv4.tcp_migrate_req; a switch may reset connections that arrive during it"
  mkdir -p "$RUN_DIR/proxy" "$proxy_data"
  [ -f "$proxy_config" ] && return
  stage_proxy_config ""
  mv "$proxy_config.next" "$proxy_config"
}

# Loads the proxy's config file again even though it did not change, which makes Caddy try for a missing certificate
# at once instead of at its next retry.
reload_proxy() {
  local answer
  answer=$(curl -sS -m 30 --fail-with-body --unix-socket "$proxy_socket" -H 'Content-Type: application/json' \
    -H 'Cache-Control: must-revalidate' --data-binary "@$proxy_config" http://localhost/load 2>&1) ||
    fail "could not reload the proxy: ${answer//$'\n'/ }"
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

# --- certificate store --------------------------------------------------------------------------------------------
# The proxy's certificates and ACME account (its storage's certificates/ and acme/ folders) are kept in SSM for the
# service's next host: a gzipped tar in base64, cut into SecureString parameters of at most 4000 characters
# (standard parameters hold 4 KB) encrypted with the service's key, then a plain pointer that names the site, the
# CA, the key, the parts and their digest, written last. A reader that catches a write halfway sees the digest differ.

store_part_chars=4000
store_max_parts=8

# The digest of the certificates and account on disk.
local_certificates_digest() {
  (cd "$proxy_data" && find certificates acme -type f 2>/dev/null | LC_ALL=C sort | xargs -r sha256sum) | sha256sum |
    cut -d' ' -f1
}

has_certificate() {
  [ -n "$(find "$proxy_data/certificates" -name "$SITE_NAME.crt" 2>/dev/null)" ]
}

# Whether this host holds the Elastic IP: only then does an ACME challenge for the site reach its proxy.
holds_address() {
  [ "$(metadata public-ipv4 2>/dev/null)" = "$PUBLIC_IP" ]
}

# The value of NAME in a text of NAME=value lines.
field_of() {
  sed -n "s/^$1=//p" <<<"$2"
}

# Sets store_site, store_ca, store_key, store_parts and store_sha256 from the store's pointer; returns 1 when there
# is none.
read_store_pointer() {
  local text
  if ! text=$(aws_cli ssm get-parameter --name "$CERTIFICATE_STORE/current" --query Parameter.Value \
    --output text 2>&1); then
    [[ $text == *ParameterNotFound* ]] && return 1
    fail "could not read $CERTIFICATE_STORE/current: ${text//$'\n'/ }"
  fi
  store_site=$(field_of site "$text") store_ca=$(field_of ca "$text") store_key=$(field_of key "$text")
  store_parts=$(field_of parts "$text") store_sha256=$(field_of sha256 "$text")
  [[ $store_parts =~ ^[1-9][0-9]*$ ]] || fail "$CERTIFICATE_STORE/current names no parts: ${text//$'\n'/ }"
}

# Writes the certificates and account on disk to the store.
push_certificates() {
  local blob parts index digest error
  blob=$(tar -C "$proxy_data" -cz certificates acme | base64 -w 0)
  parts=$(((${#blob} + store_part_chars - 1) / store_part_chars))
  [ "$parts" -le "$store_max_parts" ] ||
    fail "the proxy's certificates take $parts parts of $store_part_chars characters; the store holds $store_max_parts"
  for ((index = 0; index < parts; index++)); do
    if ! error=$(printf '%s' "${blob:index*store_part_chars:store_part_chars}" | aws_cli --stdin ssm put-parameter \
      --name "$CERTIFICATE_STORE/part-$index" --type SecureString --key-id "$CERTIFICATE_STORE_KEY" --overwrite \
      --value file:///dev/stdin 2>&1 >/dev/null); then
      fail "could not write $CERTIFICATE_STORE/part-$index: ${error//$'\n'/ }"
    fi
  done
  digest=$(printf '%s' "$blob" | sha256sum | cut -d' ' -f1)
  if ! error=$(aws_cli ssm put-parameter --name "$CERTIFICATE_STORE/current" --type String --overwrite --value \
    "$(printf 'site=%s\nca=%s\nkey=%s\nparts=%s\nsha256=%s\nat=%s' "$SITE_NAME" "$ACME_CA" "$CERTIFICATE_STORE_KEY" \
      "$parts" "$digest" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" 2>&1 >/dev/null); then
    fail "could not write $CERTIFICATE_STORE/current: ${error//$'\n'/ }"
  fi
  log "stored the proxy's certificates in $CERTIFICATE_STORE ($parts parts)"
}

# Before the proxy first starts: the certificates another host of the service stored, when they are for this site, CA
# and key (a stack destroyed and created again has a new key), so that this host serves HTTPS from the first request
# the address sends it. A host that has its own keeps them.
restore_certificates() {
  local attempt blob index part
  if has_certificate; then
    log "the proxy has a certificate for $SITE_NAME already; nothing to restore"
    return
  fi
  if ! read_store_pointer; then
    log "no certificate stored yet; the proxy obtains one once this host holds $PUBLIC_IP"
    return
  fi
  if [ "$store_site" != "$SITE_NAME" ] || [ "$store_ca" != "$ACME_CA" ] ||
    [ "$store_key" != "$CERTIFICATE_STORE_KEY" ]; then
    log "the stored certificate is for $store_site from $store_ca under $store_key; the proxy obtains its own"
    return
  fi
  for attempt in 1 2 3; do
    blob=""
    for ((index = 0; index < store_parts; index++)); do
      part=$(aws_cli ssm get-parameter --name "$CERTIFICATE_STORE/part-$index" --with-decryption \
        --query Parameter.Value --output text 2>&1) ||
        fail "could not read $CERTIFICATE_STORE/part-$index: ${part//$'\n'/ }"
      blob+=$part
    done
    [ "$(printf '%s' "$blob" | sha256sum | cut -d' ' -f1)" = "$store_sha256" ] && break
    [ "$attempt" -lt 3 ] || fail "the certificate store's parts do not match its pointer (read 3 times)"
    log "the certificate store changed while it was read; reading it again"
    sleep 2
  done
  mkdir -p "$proxy_data"
  printf '%s' "$blob" | base64 -d | tar -C "$proxy_data" -xz --no-same-owner
  local_certificates_digest >"$certificates_synced"
  log "restored the proxy's certificates for $SITE_NAME from $CERTIFICATE_STORE"
}

# --- commands -----------------------------------------------------------------------------------------------------

deploy() {
  read_inputs
  exec 9>"$STATE_DIR/lock"
  flock 9
  wait_for_bootstrap
  record_start
  load_current
  if [ "$release_id" = "$current_release" ]; then
    log "release $release_id is the current one; making sure it runs"
    resume_current
    start_recorded
    record succeeded
    return
  fi

  log "release $release_id: $image"
  ensure_image "$image"
  verify_image
  new_container="$SERVICE_NAME-$release_id"
  slot=0
  [ "$current_slot" = 0 ] && slot=1
  write_environment
  image_owner
  fetch_secrets "$secrets" "$RUN_DIR/$release_id"
  start_container
  wait_healthy "$new_container" "${slot_ports[$slot]}" "$health_timeout"
  keep_running
  wait_for_proxy
  switch_proxy "127.0.0.1:${slot_ports[$slot]}"
  save_current
  log "release $release_id serves on port $PORT"
  # It serves: `pulumi up` may go on (and move the address to a new host) while the old container drains.
  start_recorded
  record succeeded

  if [ -n "$current_container" ]; then
    log "stopping $current_container (it drains its requests first)"
    docker stop --time "$STOP_TIMEOUT_SECONDS" "$current_container" >/dev/null || true
    rm -rf "${RUN_DIR:?}/$current_release"
  fi
  prune
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

# The host's one-time setup, run by cloud-init after it wrote the files: the helper images, then the proxy and the
# release unit. The mark that releases wait for is written only when all of it worked; otherwise the reason is kept
# for the first release to report.
bootstrap() {
  rm -f "$bootstrapped_mark" "$bootstrap_failure"
  ensure_image "$PROXY_IMAGE"
  ensure_image "$AWS_CLI_IMAGE"
  restore_certificates
  failure="could not start the proxy ($PROXY_NAME.service)"
  systemctl enable --now "$PROXY_NAME.service"
  failure="could not enable $RELEASE_UNIT and $CERTIFICATES_TIMER"
  systemctl enable "$RELEASE_UNIT"
  systemctl enable --now "$CERTIFICATES_TIMER"
  wait_for_proxy
  touch "$bootstrapped_mark"
  log "bootstrapped"
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

# Run every minute. Only the host that holds the address can obtain or renew, so only it acts: it stores the
# proxy's certificates whenever they changed on disk, and when it has none yet, it has the proxy try at once (one
# nudge a host: Caddy's own retries take over after it). A release running meanwhile leaves this run to the next.
certificates() {
  local digest
  exec 9>"$STATE_DIR/lock"
  flock --nonblock 9 || return 0
  holds_address || return 0
  if ! has_certificate; then
    [ -f "$certificates_nudged" ] && return
    log "this host holds $PUBLIC_IP and has no certificate for $SITE_NAME; the proxy tries now"
    touch "$certificates_nudged"
    reload_proxy
    return
  fi
  digest=$(local_certificates_digest)
  [ "$digest" = "$(cat "$certificates_synced" 2>/dev/null)" ] && return
  push_certificates
  printf '%s\n' "$digest" >"$certificates_synced"
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
  bootstrap) bootstrap ;;
  deploy) deploy ;;
  resume) resume ;;
  proxy-init) proxy_init ;;
  proxy-config) render_proxy_config "${2:-}" ;;
  certificates) certificates ;;
  status) status ;;
  *)
    echo "usage: release-service bootstrap|deploy|resume|proxy-init|proxy-config|certificates|status" >&2
    exit 2
    ;;
esac
