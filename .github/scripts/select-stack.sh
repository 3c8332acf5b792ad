#!/usr/bin/env bash
# Logs in to BACKEND_URL and, when STACK is set, selects it: created with SECRETS_PROVIDER when that is set and the
# stack does not exist yet, required to exist otherwise. Then sets, each only when given: tasksImage and
# requestsImage from TASKS_IMAGE and REQUESTS_IMAGE; imageSigner from IMAGE_SIGNER (who must have signed them);
# deployerArns from DEPLOYER_ARN, as that one role alone (a review stack's, whose settings are dev's copied: dev's
# deployers are another account's). Reads its inputs from the environment (.github/actions/prepare-stack).
set -euo pipefail

pulumi login "${BACKEND_URL:?}"
[ -n "${STACK:-}" ] || exit 0
if [ -n "${SECRETS_PROVIDER:-}" ]; then
  pulumi stack select --create --secrets-provider "$SECRETS_PROVIDER" "$STACK"
else
  pulumi stack select "$STACK"
fi
if [ -n "${TASKS_IMAGE:-}" ]; then pulumi config set --stack "$STACK" tasksImage "$TASKS_IMAGE"; fi
if [ -n "${REQUESTS_IMAGE:-}" ]; then pulumi config set --stack "$STACK" requestsImage "$REQUESTS_IMAGE"; fi
if [ -n "${IMAGE_SIGNER:-}" ]; then pulumi config set --stack "$STACK" imageSigner "$IMAGE_SIGNER"; fi
if [ -n "${DEPLOYER_ARN:-}" ]; then
  pulumi config rm --stack "$STACK" deployerArns
  pulumi config set --stack "$STACK" --path 'deployerArns[0]' "$DEPLOYER_ARN"
fi
