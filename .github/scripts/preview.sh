#!/usr/bin/env bash
# Previews a stack with the policy pack and writes the pull request comment about it to BODY_FILE: the images that
# would ship, by digest, and what would change. Another workflow, which runs no pull request code, posts it
# (pr-comment.yml). Exits with the preview's status once the body is written, so a failed preview or a policy
# violation still fails the job. Needs TASKS_IMAGE and REQUESTS_IMAGE.
#   preview.sh STACK NOTE BODY_FILE
# shellcheck disable=SC2016 # backticks in the printf formats are Markdown, not commands
set -uo pipefail

usage="usage: preview.sh STACK NOTE BODY_FILE"
stack=${1:?$usage}
note=${2:?$usage}
body=${3:?$usage}
output=$(mktemp)

pulumi preview --stack "$stack" --policy-pack policy --diff --color never --suppress-progress 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then result="passed"; else result="failed (exit $status)"; fi

{
  printf '### `pulumi preview` of %s: %s\n\n%s\n\n' "$stack" "$result" "$note"
  printf '| image | by digest |\n|---|---|\n| tasks | `%s` |\n| requests | `%s` |\n\n' "$TASKS_IMAGE" "$REQUESTS_IMAGE"
  printf '<details><summary>Output</summary>\n\n```\n%s\n```\n</details>\n' "$(cat "$output")"
} >"$body" || status=1
exit "$status"
