#!/usr/bin/env bash
# Posts a comment on a pull request, or edits the one it posted before under the same marker, so a pull request keeps
# one comment per topic (a stack's preview, a review stack's addresses). The body comes on stdin. Needs GH_TOKEN and
# GITHUB_REPOSITORY, as in a workflow step.
#   pr-comment.sh PR_NUMBER MARKER <body.md
set -euo pipefail

usage="usage: pr-comment.sh PR_NUMBER MARKER <body.md"
pr=${1:?$usage}
marker=${2:?$usage}
tag="<!-- $marker -->"
body="$tag"$'\n'"$(cat)"
# GitHub refuses comments over 65536 characters; the job log keeps the whole output.
limit=65000
if [ "${#body}" -gt "$limit" ]; then
  body="${body:0:limit}"$'\n\n'"(cut here: the job's log has the rest)"
fi

# One line per comment starts with its id and the first line of its body; bodies' other lines have no id before them.
existing=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$pr/comments" \
  --template '{{range .}}{{.id}}{{"\t"}}{{.body}}{{"\n"}}{{end}}' |
  awk -F'\t' -v tag="$tag" '$1 ~ /^[0-9]+$/ && index($2, tag) == 1 { print $1; exit }')
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" -f body="$body" >/dev/null
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$pr/comments" -f body="$body" >/dev/null
fi
