#!/bin/sh
# Makes the callers of the tasks service for a run on one machine, once: a throwaway key for each caller, and the
# callers file the tasks service reads (API_KEYS_FILE), which holds only the keys' SHA-256 digests (docs/api.md
# § Authentication). POSIX sh and busybox's tools, so that scripts/run-local.sh (scripts/local/system.py) and
# compose.yaml's `keys` container make them the same way.
#   callers.sh CALLERS_FILE KEYS_DIR
# KEYS_DIR/local.key     the caller `local`, which may write: the key to call the tasks service with
# KEYS_DIR/requests.key  the caller `requests`, which may only read: the requests service's TASKS_API_KEY
# A CALLERS_FILE that exists is kept, with its keys: the callers are the same after a restart.
set -eu

if [ "$#" -ne 2 ]; then
  echo "usage: $0 CALLERS_FILE KEYS_DIR" >&2
  exit 2
fi
callers_file=$1
keys_dir=$2
[ -e "$callers_file" ] && exit 0

# msk_ and 32 random bytes in unpadded base64url: 47 characters.
new_key() {
  printf 'msk_%s' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
}
digest_of() {
  printf '%s' "$(cat "$1")" | sha256sum | cut -d ' ' -f 1
}

mkdir -p "$keys_dir" "$(dirname "$callers_file")"
(
  umask 077 # the keys: their owner's only
  new_key >"$keys_dir/local.key"
  new_key >"$keys_dir/requests.key"
)
# Digests only: readable by the service's own user. Written whole, then renamed, so that a file that exists is complete.
printf '{"callers": {"local": {"access": "write", "keys": ["%s"]}, "requests": {"access": "read", "keys": ["%s"]}}}\n' \
  "$(digest_of "$keys_dir/local.key")" "$(digest_of "$keys_dir/requests.key")" >"$callers_file.new"
chmod 0644 "$callers_file.new"
mv "$callers_file.new" "$callers_file"
