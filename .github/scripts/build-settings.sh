#!/usr/bin/env bash
# Prints, as step outputs, what the image builds take from the commit and the output kind: source-date-epoch (the
# commit's time, for reproducible timestamps) and provenance (mode=max for pushed images, which carry their SLSA
# provenance in their index; false for loaded ones, which the Docker exporter cannot hold). For oci, makes the folder.
#   build-settings.sh push|load|oci [OCI_DIR]
set -euo pipefail

usage="usage: build-settings.sh push|load|oci [OCI_DIR]"
output=${1:?$usage}
case $output in
  push) provenance=mode=max ;;
  load) provenance=false ;;
  oci)
    [ -n "${2:-}" ] || {
      echo "$usage: oci needs OCI_DIR" >&2
      exit 2
    }
    mkdir -p "$2"
    provenance=false
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
echo "source-date-epoch=$(git log -1 --format=%ct)"
echo "provenance=$provenance"
