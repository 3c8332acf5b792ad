#!/bin/sh
# Makes the callers of both services for a run on one machine, once: a throwaway key for each caller, and the callers
# file each service reads (API_KEYS_FILE), which holds only the keys' SHA-256 digests (docs/api.md § Authentication).
# POSIX sh and busybox's tools, so that scripts/run-local.sh (scripts/local/system.py) and compose.yaml's `keys`
# container make them the same way.
#   callers.sh TASKS_DIR REQUESTS_DIR KEYS_DIR
# TASKS_DIR/callers.json     the tasks service's callers: `local`, which may write, and `requests`, which may only read
# REQUESTS_DIR/callers.json  the requests service's callers: `local`, which may write
# REQUESTS_DIR/tasks.key     the key of the caller `requests` of the tasks service: the requests service's TASKS_API_KEY
# KEYS_DIR/tasks.key         the key of the caller `local` of the tasks service: yours, to call it with
# KEYS_DIR/requests.key      the key of the caller `local` of the requests service: yours, to call it with
# Each service mounts its own folder only. Once REQUESTS_DIR/callers.json (written last) exists, everything is kept:
# the callers are the same after a restart.
set -eu

if [ "$#" -ne 3 ]; then
  echo "usage: $0 TASKS_DIR REQUESTS_DIR KEYS_DIR" >&2
  exit 2
fi
tasks_dir=$1
requests_dir=$2
keys_dir=$3
[ -e "$requests_dir/callers.json" ] && exit 0

# msk_ and 32 random bytes in unpadded base64url: 47 characters.
new_key() {
  printf 'msk_%s' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
}
digest_of() {
  printf '%s' "$(cat "$1")" | sha256sum | cut -d ' ' -f 1
}
# A callers file with one caller per ID ACCESS KEY_FILE triple; digests only, readable by the service's own user.
# Written whole, then renamed, so that a file that exists is complete.
write_callers() {
  file=$1
  shift
  entries=""
  while [ "$#" -gt 0 ]; do
    entries="$entries${entries:+, }\"$1\": {\"access\": \"$2\", \"keys\": [\"$(digest_of "$3")\"]}"
    shift 3
  done
  printf '{"callers": {%s}}\n' "$entries" >"$file.new"
  chmod 0644 "$file.new"
  mv "$file.new" "$file"
}

mkdir -p "$tasks_dir" "$requests_dir" "$keys_dir"
(
  umask 077 # your keys: their owner's only
  new_key >"$keys_dir/tasks.key"
  new_key >"$keys_dir/requests.key"
)
# Readable by the requests service's user, which compose runs under another uid than this script's: the folder is
# the requests service's alone.
new_key >"$requests_dir/tasks.key"
chmod 0644 "$requests_dir/tasks.key"
write_callers "$tasks_dir/callers.json" local write "$keys_dir/tasks.key" requests read "$requests_dir/tasks.key"
write_callers "$requests_dir/callers.json" local write "$keys_dir/requests.key"
