#!/usr/bin/env bash
# The first process of a rig host, started in the host's own mount namespace and network namespace: it gives the host
# what an EC2 instance has to itself (a fresh /run on a tmpfs, its own /etc, /usr/local and /var/lib over the
# machine's, and a /sys of its own network), says so in FOLDER/ready, then holds the namespaces until it is killed.
#   host-init.sh FOLDER
set -euo pipefail
folder=$1

mount -t tmpfs -o mode=755 tmpfs /run
# A sysfs of this network namespace hides the cgroup hierarchy that Docker needs, so it is set aside and put back.
mkdir -p "$folder/cgroup"
mount --rbind /sys/fs/cgroup "$folder/cgroup"
mount -t sysfs sysfs /sys
mount --rbind "$folder/cgroup" /sys/fs/cgroup
for dir in /etc /usr/local /var/lib; do
  layer="$folder/layers/${dir//\//_}"
  mkdir -p "$layer/upper" "$layer/work"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
done
echo "$$" >"$folder/ready"
exec sleep infinity
