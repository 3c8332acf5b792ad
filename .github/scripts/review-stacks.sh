#!/usr/bin/env bash
# The review stacks' sweep, in steps that each hold only what they need: the Pulumi CLI's steps hold no GitHub
# token, and the GitHub steps run no Pulumi. A review stack is stale once its pull request is closed or no longer
# labelled review-stack; a stale stack is destroyed and removed, and its pull request told so.
#   review-stacks.sh list OUT          the pr-NUMBER stacks of the logged-in backend, one a line
#   review-stacks.sh stale IN OUT      those of IN whose pull request is closed or unlabelled (needs GH_TOKEN)
#   review-stacks.sh destroy IN        destroys and removes each; waits out another run's lock on a stack
#   review-stacks.sh announce IN       comments on each pull request (needs GH_TOKEN)
set -euo pipefail

usage="usage: review-stacks.sh list OUT | stale IN OUT | destroy IN | announce IN"
command=${1:?$usage}
lock_attempts=${REVIEW_LOCK_ATTEMPTS:-12}
lock_wait_seconds=${REVIEW_LOCK_WAIT_SECONDS:-300}

# Destroys one stack, retrying while a deploy of it holds the state lock; other failures fail at once.
destroy_stack() {
  local stack=$1 log attempt
  log=$(mktemp)
  for ((attempt = 1; attempt <= lock_attempts; attempt++)); do
    if pulumi destroy --stack "$stack" --yes --color never --suppress-progress 2>&1 | tee "$log"; then
      pulumi stack rm --stack "$stack" --yes
      return 0
    fi
    grep -q 'currently locked' "$log" || return 1
    echo "review-stacks: $stack is locked by another run; trying again in $lock_wait_seconds s" >&2
    sleep "$lock_wait_seconds"
  done
  return 1
}

case $command in
  list)
    pulumi stack ls --json | jq -r '.[].name | select(test("^pr-[0-9]+$"))' >"${2:?$usage}"
    ;;
  stale)
    : >"${3:?$usage}"
    while read -r stack; do
      open_and_labelled=$(gh pr view "${stack#pr-}" --repo "$GITHUB_REPOSITORY" --json state,labels \
        --jq '.state == "OPEN" and any(.labels[]; .name == "review-stack")')
      [ "$open_and_labelled" = true ] || echo "$stack" >>"$3"
    done <"${2:?$usage}"
    ;;
  destroy)
    failed=()
    while read -r stack; do
      destroy_stack "$stack" || failed+=("$stack")
    done <"${2:?$usage}"
    [ "${#failed[@]}" -eq 0 ] || {
      echo "review-stacks: could not destroy ${failed[*]}; the next sweep tries again" >&2
      exit 1
    }
    ;;
  announce)
    while read -r stack; do
      echo "Review stack $stack is destroyed and removed: its pull request is closed or no longer labelled review-stack." |
        "$(dirname "$0")/pr-comment.sh" "${stack#pr-}" review-stack
    done <"${2:?$usage}"
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
