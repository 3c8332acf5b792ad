#!/usr/bin/env bash
# Names the pull request a review stack deploy is for: the open pull request of this repository, into main, labelled
# review-stack, whose head is COMMIT. Prints `pr=NUMBER` (a step output), or nothing when there is none, so a closed,
# unlabelled or since-updated pull request gets no deploy. Needs GH_TOKEN and GITHUB_REPOSITORY.
#   review-target.sh COMMIT
set -euo pipefail

commit=${1:?usage: review-target.sh COMMIT}
[[ $commit =~ ^[0-9a-f]{40}$ ]] || {
  echo "review-target.sh: $commit is not a commit SHA" >&2
  exit 2
}
gh api "repos/$GITHUB_REPOSITORY/commits/$commit/pulls" --jq "
  [.[] | select(.state == \"open\" and .head.sha == \"$commit\" and .base.ref == \"main\"
    and .head.repo.full_name == \"$GITHUB_REPOSITORY\" and any(.labels[]; .name == \"review-stack\"))]
  | first | select(.) | \"pr=\(.number)\""
