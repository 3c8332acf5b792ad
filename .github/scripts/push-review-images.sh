#!/usr/bin/env bash
# Pushes the images a pull request's unprivileged build left as OCI archives (DIR/tasks.tar, DIR/requests.tar) to the
# review namespace on Docker Hub, unchanged (--preserve-digests), and prints each as a step output by the digest that
# was pushed: tasks-image=docker.io/NAMESPACE/tasks@sha256:… The archives are data from pull request code: they are
# copied, never run here. Log in to Docker Hub first.
#   push-review-images.sh NAMESPACE TAG DIR
set -euo pipefail

usage="usage: push-review-images.sh NAMESPACE TAG DIR"
namespace=${1:?$usage}
tag=${2:?$usage}
dir=${3:?$usage}
digest_file=$(mktemp)

for service in tasks requests; do
  repository=docker.io/$namespace/$service
  skopeo copy --quiet --preserve-digests --digestfile "$digest_file" \
    "oci-archive:$dir/$service.tar" "docker://$repository:$tag" >&2
  digest=$(cat "$digest_file")
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || {
    echo "push-review-images.sh: skopeo reported no digest for $service" >&2
    exit 1
  }
  echo "$service-image=$repository@$digest"
done
