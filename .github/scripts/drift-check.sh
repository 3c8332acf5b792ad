#!/usr/bin/env bash
# Compares a stack's resources in the cloud with its state (`pulumi refresh --preview-only`, which writes nothing),
# then keeps the stack's drift issue up to date with drift-issue.sh. Exits non-zero on drift.
#   drift-check.sh STACK
set -uo pipefail

stack=${1:?usage: drift-check.sh STACK}
report=$(mktemp)

pulumi refresh --stack "$stack" --preview-only --expect-no-changes --color never --suppress-progress 2>&1 |
  tee "$report"
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then state=clean; else state=drift; fi
"$(dirname "$0")/drift-issue.sh" "$stack" "$state" "$report" || status=1
exit "$status"
