#!/usr/bin/env bash
# Keeps one open issue per stack about drift, from the outcome of the drift check's step. On drift, or a check that
# could not run (any outcome but success), it comments on the stack's open drift issue, or opens that issue; when the
# stack is back in line it closes the issue. The report file (the check's output) goes into the comment. It runs in a
# step of its own, so GH_TOKEN never reaches the Pulumi CLI or its plugins. Needs GH_TOKEN and the GITHUB_* variables.
#   drift-issue.sh STACK success|failure|skipped|cancelled REPORT_FILE
# shellcheck disable=SC2016 # backticks in the printf formats are Markdown, not commands
set -euo pipefail

usage="usage: drift-issue.sh STACK success|failure|skipped|cancelled REPORT_FILE"
stack=${1:?$usage}
outcome=${2:?$usage}
report=${3:?$usage}
case $outcome in
  success) state=clean ;;
  failure | skipped | cancelled) state=drift ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
if [ ! -s "$report" ]; then
  echo "The check stopped before comparing anything; the run's log says why." >"$report"
fi
title="Drift on the $stack stack"
run_url="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"

open_issue=$(gh issue list --repo "$GITHUB_REPOSITORY" --state open --label drift --limit 100 --json number,title \
  --template '{{range .}}{{.number}}{{"\t"}}{{.title}}{{"\n"}}{{end}}' |
  awk -F'\t' -v title="$title" '$2 == title { print $1; exit }')

case $state in
  drift)
    body=$(
      printf 'The drift check of the %s stack found the cloud differing from the state, or could not run: %s\n\n' \
        "$stack" "$run_url"
    printf '<details><summary>Output</summary>\n\n```\n%s\n```\n</details>\n' "$(tail -c 60000 "$report")"
    )
    if [ -n "$open_issue" ]; then
      gh issue comment "$open_issue" --repo "$GITHUB_REPOSITORY" --body "$body"
    else
      gh label create drift --repo "$GITHUB_REPOSITORY" --force --color D93F0B \
        --description "The cloud differs from the code's last deploy" >/dev/null
      gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --label drift --body "$body"
    fi
    ;;
  clean)
    if [ -n "$open_issue" ]; then
      gh issue close "$open_issue" --repo "$GITHUB_REPOSITORY" \
        --comment "The drift check of the $stack stack finds no drift any more: $run_url"
    fi
    ;;
esac
