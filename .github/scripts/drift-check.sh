#!/usr/bin/env bash
# Compares a stack's resources in the cloud with its state (`pulumi refresh --preview-only`, which writes nothing),
# and keeps the output in REPORT for drift-issue.sh. Exits non-zero on drift, or when the check could not run.
#   drift-check.sh STACK REPORT
set -uo pipefail

usage="usage: drift-check.sh STACK REPORT"
stack=${1:?$usage}
report=${2:?$usage}

pulumi refresh --stack "$stack" --preview-only --expect-no-changes --color never --suppress-progress 2>&1 |
  tee "$report"
exit "${PIPESTATUS[0]}"
