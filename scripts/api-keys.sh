#!/usr/bin/env bash
# Manages who may call a service: callers, each with its access (read or write) and one key, or two during a rotation.
# A new key is printed once, on stdout (everything else goes to stderr); the stack keeps only its SHA-256 digest, in
# its encrypted config (tasksApiCallers, requestsApiCallers). A change reaches the service with the next `pulumi up`.
#   scripts/api-keys.sh STACK SERVICE add CALLER [--read|--write]  a new caller and its key (default: --read)
#   scripts/api-keys.sh STACK SERVICE rotate CALLER                 a second key for the caller, beside its old one
#   scripts/api-keys.sh STACK SERVICE revoke CALLER --old           drops the caller's older key, after a rotation
#   scripts/api-keys.sh STACK SERVICE revoke CALLER                 removes the caller and its keys
#   scripts/api-keys.sh STACK SERVICE list                          callers, access and number of keys
# SERVICE is tasks or requests. The state is where scripts/deploy.sh keeps it (PULUMI_BACKEND_URL, by default the
# file backend .pulumi-state); a passphrase stack needs PULUMI_CONFIG_PASSPHRASE (or _FILE), as any pulumi command.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
usage="usage: scripts/api-keys.sh STACK tasks|requests add|rotate|revoke|list [CALLER] [--read|--write|--old]"
fail() {
  echo "api-keys: $*" >&2
  exit 1
}
[ $# -ge 3 ] || fail "$usage"
stack=$1 service=$2 action=$3 caller=${4:-} option=${5:-}
[ $# -le 5 ] || fail "$usage"
case $service in
  tasks) key=tasksApiCallers ;;
  requests) key=requestsApiCallers ;;
  *) fail "unknown service \"$service\"; it is tasks or requests" ;;
esac
case $action:$option in
  add: | add:--read | add:--write | rotate: | revoke: | revoke:--old) [ -n "$caller" ] || fail "$usage" ;;
  list:) [ -z "$caller" ] || fail "$usage" ;;
  *) fail "$usage" ;;
esac
stack_file=Pulumi.$stack.yaml
[ -f "$stack_file" ] || fail "there is no $stack_file; see 'Add a stack' in docs/configuration.md"
command -v pulumi >/dev/null || fail "the Pulumi CLI is not installed: https://www.pulumi.com/docs/install/"
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$root/.pulumi-state}

# The callers as the stack holds them; none when the stack file does not set the key yet (every `pulumi config get`
# fails while a required key is unset, so a stack without callers is read from its file).
if grep -Eq "^  ([a-z0-9-]+:)?$key:" "$stack_file"; then
  current=$(pulumi config get --stack "$stack" "$key") ||
    fail "could not read $key of stack $stack (above); set the stack's other secrets first: scripts/stack-secrets.sh $stack"
else
  current='{"callers": {}}'
fi

# The change, in Node: the new callers on the first line of its output, then the new key, if any. For `list`, the list.
# shellcheck disable=SC2016 # JavaScript, not shell, between the single quotes
result=$(API_KEYS_CURRENT=$current node -e '
  const crypto = require("crypto");
  const [service, action, caller, option] = process.argv.slice(1);
  const callers = JSON.parse(process.env.API_KEYS_CURRENT).callers;
  const fail = (message) => {
    console.error(`api-keys: ${message}`);
    process.exit(1);
  };
  const known = Object.hasOwn(callers, caller);
  const keys = (id) => `${callers[id].keys.length} ${callers[id].keys.length === 1 ? "key" : "keys"}`;
  if (action === "list") {
    for (const id of Object.keys(callers).sort()) console.log(`${id} ${callers[id].access} ${keys(id)}`);
    process.exit(0);
  }
  if (action !== "add" && !known) fail(`${service} has no caller ${caller}`);
  // 32 random bytes: nothing to guess, so a plain SHA-256 keeps it safe (docs/api.md § Authentication).
  const key = `msk_${crypto.randomBytes(32).toString("base64url")}`;
  const digest = crypto.createHash("sha256").update(key, "ascii").digest("hex");
  if (action === "add") {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(caller)) fail(`"${caller}" cannot name a caller: 1 to 64 of a-z, 0-9 and -, starting with a letter`);
    if (service === "tasks" && caller === "requests") fail("the caller requests of tasks is the requests service, whose key scripts/deploy.sh keeps (requestsTasksApiKey)");
    if (known) fail(`${service} already has a caller ${caller}; to give it a new key: rotate ${caller}`);
    callers[caller] = { access: option === "--write" ? "write" : "read", keys: [digest] };
  } else if (action === "rotate") {
    if (callers[caller].keys.length > 1) fail(`${caller} already has two keys; revoke the old one first: revoke ${caller} --old`);
    callers[caller].keys.push(digest);
  } else if (option === "--old") {
    if (callers[caller].keys.length < 2) fail(`${caller} has one key, no old one; to remove the caller: revoke ${caller}`);
    callers[caller].keys.shift();
  } else {
    if (Object.keys(callers).length === 1) fail(`${caller} is the only caller of ${service}, which refuses to start with none; add another first`);
    delete callers[caller];
  }
  console.log(JSON.stringify({ callers }));
  if (action === "add" || action === "rotate") console.log(key);
' "$service" "$action" "$caller" "$option")

if [ "$action" = list ]; then
  echo "$result"
  exit 0
fi
callers=${result%%$'\n'*}
printf '%s' "$callers" | pulumi config set --secret --stack "$stack" "$key"
case $action in
  add | rotate)
    echo "${result#*$'\n'}"
    echo "api-keys: that is $caller's new key for $service, shown this once: hand it to the caller now. Stack $stack keeps only its digest." >&2
    ;;
  revoke) echo "api-keys: ${option:+the old key of }$caller revoked in stack $stack; it stops working once released." >&2 ;;
esac
echo "api-keys: run \`pulumi up\` (scripts/deploy.sh $stack) to release the change to $service." >&2
