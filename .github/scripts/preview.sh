#!/usr/bin/env bash
# Previews a stack with the policy pack and posts the result on the pull request: the images that would ship, by
# digest, and what would change. Exits with the preview's status once the comment is posted, so a failed preview or
# a policy violation still fails the job. Needs PR_NUMBER, TASKS_IMAGE, REQUESTS_IMAGE, GH_TOKEN, GITHUB_REPOSITORY.
#   preview.sh STACK MARKER NOTE
# shellcheck disable=SC2016 # backticks in the printf formats are Markdown, not commands
set -uo pipefail

usage="usage: preview.sh STACK MARKER NOTE"
stack=${1:?$usage}
marker=${2:?$usage}
note=${3:?$usage}
output=$(mktemp)

pulumi preview --stack "$stack" --policy-pack policy --diff --color never --suppress-progress 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then result="passed"; else result="failed (exit $status)"; fi

{
  printf '### `pulumi preview` of %s: %s\n\n%s\n\n' "$stack" "$result" "$note"
  printf '| image | by digest |\n|---|---|\n| tasks | `%s` |\n| requests | `%s` |\n\n' "$TASKS_IMAGE" "$REQUESTS_IMAGE"
  printf '<details><summary>Output</summary>\n\n```\n%s\n```\n</details>\n' "$(cat "$output")"
} | "$(dirname "$0")/pr-comment.sh" "$PR_NUMBER" "$marker" || status=1
exit "$status"
