#!/usr/bin/env bash
# Builds one of the pipeline's tools from its Go module in .github/tools/TOOL, where go.mod pins the release and go.sum
# the checksum of every module that goes into it (-mod=readonly: nothing outside them is fetched). The version is
# stamped as the tool's own release build stamps it.
#   build-tool.sh TOOL OUTPUT_DIR
set -euo pipefail

usage="usage: build-tool.sh pulumi|trivy|cosign OUTPUT_DIR"
tool=${1:?$usage}
output=${2:?$usage}
cd "$(dirname "$0")/../tools/$tool"

package=$(sed -n 's/^tool //p' go.mod)
version=$(GOFLAGS=-mod=readonly go list -f '{{.Module.Version}}' "$package")
case $tool in
  pulumi) stamp="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" ;;
  trivy)
    stamp="-X github.com/aquasecurity/trivy/pkg/version/app.ver=${version#v}"
    export GOEXPERIMENT=jsonv2 # as Trivy's release build sets it
    ;;
  cosign) stamp="-X sigs.k8s.io/release-utils/version.gitVersion=$version" ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
mkdir -p "$output"
GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $stamp" -o "$output/$tool" "$package"
"$output/$tool" version
