#!/usr/bin/env bash
# Scans an image with Trivy and fails on a critical vulnerability that has a fix (a base image or package update
# away). With REPORT, also writes the scan as a cosign vulnerability attestation's predicate (sign-image.sh attaches it).
# The gate reads no .trivyignore or trivy.yaml but the repository's own, which CODEOWNERS guards (docs/ci-cd.md).
#   scan-image.sh IMAGE [REPORT]
set -euo pipefail

image=${1:?usage: scan-image.sh IMAGE [REPORT]}
report=${2:-}
format=(--format table)
[ -z "$report" ] || format=(--format cosign-vuln --output "$report")
trivy image --severity CRITICAL --ignore-unfixed --exit-code 1 --no-progress "${format[@]}" "$image"
