#!/usr/bin/env bash
# Signs an image by digest with cosign, keyless: the signing certificate names the workflow, its ref and its commit
# (GitHub's OIDC token), and the signature is logged in Sigstore's public transparency log. Then attaches the image's
# scan (scan-image.sh's REPORT) as a signed vulnerability attestation. Only a scanned digest reaches this script.
#   sign-image.sh IMAGE@sha256:DIGEST REPORT
set -euo pipefail

usage="usage: sign-image.sh IMAGE@sha256:DIGEST REPORT"
image=${1:?$usage}
report=${2:?$usage}
[[ $image == *@sha256:* ]] || {
  echo "sign-image.sh: $image is not named by digest; sign only the digest that was scanned" >&2
  exit 2
}
cosign sign --yes "$image"
cosign attest --yes --type vuln --predicate "$report" "$image"
