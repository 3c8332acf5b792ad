#!/usr/bin/env bash
# Releases the stack's configured images (tasksImage, requestsImage): prints the preview, runs `pulumi up` with the
# policy pack, and writes the released digests and the services' addresses to the job summary.
#   release.sh STACK
set -euo pipefail

stack=${1:?usage: release.sh STACK}

pulumi preview --stack "$stack" --policy-pack policy --diff --color never --suppress-progress
pulumi up --stack "$stack" --policy-pack policy --yes --skip-preview --color never --suppress-progress

{
  printf '### %s released\n\n' "$stack"
  for output in tasksImageDigest requestsImageDigest tasksUrl requestsUrl; do
    printf -- '- %s: %s\n' "$output" "$(pulumi stack output --stack "$stack" "$output")"
  done
} >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"
