#!/usr/bin/env bash
# Makes sure a stack has every secret and required setting, and that its stack file holds no secret in plain text.
# Secrets are committed encrypted, as Pulumi intends (docs/configuration.md), and never in plain text.
#   scripts/stack-secrets.sh --check STACK  only refuse a plain-text secret in Pulumi.STACK.yaml, naming each key
#   scripts/stack-secrets.sh STACK          that check, then set each key from its environment variable (CI) when
#                                           it differs, and ask at the terminal for each required key still unset
# Values reach `pulumi config set` through stdin, so they never show in the process list. Exits non-zero naming every
# key it could not set, before it sets any.
set -euo pipefail

check_only=false
if [ "${1:-}" = --check ]; then
  check_only=true
  shift
fi
stack=${1:?usage: stack-secrets.sh [--check] STACK}
cd "$(dirname "$0")/.."
stack_file=Pulumi.$stack.yaml

# Config key and the environment variable that sets it.
variables=(
  dockerHubUsername:DOCKERHUB_USERNAME
  dockerHubToken:DOCKERHUB_TOKEN
  mongodbUri:MONGODB_URI
  postgresUrl:POSTGRES_URL
  logseneToken:LOGSENE_TOKEN
  papertrailDestination:PAPERTRAIL_DESTINATION
  tasksApiCallers:TASKS_API_CALLERS
  requestsApiCallers:REQUESTS_API_CALLERS
  requestsTasksApiKey:REQUESTS_TASKS_API_KEY
)

# One line per key the stack may need: the key, secret or plain, required (no default) or optional, and what the
# stack file holds for it: encrypted, plain or unset. Read from the files, because every `pulumi config get`
# fails while any required key is unset.
declared_keys() {
  # shellcheck disable=SC2016 # JavaScript, not shell, between the single quotes
  node -e '
    const fs = require("fs");
    const YAML = require("yaml");
    // A parse error goes on to quote the line, which may hold a secret: keep only its first line.
    const parse = (file) => {
      try {
        return YAML.parse(fs.readFileSync(file, "utf8"));
      } catch (error) {
        if (!(error instanceof YAML.YAMLError)) throw error;
        console.error(`${file} is not valid YAML: ${error.message.split("\n")[0].replace(/:$/, "")}.`);
        process.exit(1);
      }
    };
    const project = parse("Pulumi.yaml");
    const stackFile = process.argv[1];
    const config = (fs.existsSync(stackFile) && parse(stackFile)?.config) || {};
    const held = (key) => config[`${project.name}:${key}`] ?? config[key];
    // The Docker Hub account and token are needed only by a stack that builds an image (one without both
    // tasksImage and requestsImage). So Pulumi.yaml leaves the token undeclared (the CLI would require it everywhere)
    // and gives the account a default; here both count as required when the stack builds.
    const builds = !held("tasksImage") || !held("requestsImage");
    const declarations = {
      ...project.config,
      dockerHubUsername: { ...project.config?.dockerHubUsername, ...(builds ? { default: undefined } : {}) },
      dockerHubToken: { secret: true, ...(builds ? {} : { default: "" }) },
    };
    for (const [key, declaration] of Object.entries(declarations).sort(([a], [b]) => a.localeCompare(b))) {
      const value = held(key);
      const state = value === undefined ? "unset" : value?.secure !== undefined ? "encrypted" : "plain";
      console.log(key, declaration.secret ? "secret" : "plain", declaration.default !== undefined ? "optional" : "required", state);
    }' "$stack_file"
}

declarations=$(declared_keys)
# Sets kind, required and held for a key; kind is empty when Pulumi.yaml does not declare it.
declaration() {
  read -r kind required held <<<"$(awk -v key="$1" '$1 == key { print $2, $3, $4 }' <<<"$declarations")"
}

plaintext=$(awk '$2 == "secret" && $4 == "plain" { print $1 }' <<<"$declarations")
if [ -n "$plaintext" ]; then
  {
    echo "$stack_file holds secrets in plain text: ${plaintext//$'\n'/, }."
    echo "Encrypt each one; the command asks for the value and replaces the plain one:"
    for key in $plaintext; do echo "  pulumi config set --secret --stack $stack $key"; done
    echo "If the file was ever committed or shared, change those secrets too: git history keeps the plain values."
  } >&2
  exit 1
fi
if "$check_only"; then exit 0; fi

set_key() {
  local key=$1 flag=()
  declaration "$key"
  [ "$kind" = secret ] && flag=(--secret)
  pulumi config set --stack "$stack" "${flag[@]}" "$key"
}

missing=() unset_from_environment=() set_from_environment=() asked=()
for entry in "${variables[@]}"; do
  key=${entry%%:*} variable=${entry#*:}
  declaration "$key"
  if [ -z "$kind" ]; then
    continue
  elif [ -n "${!variable:-}" ] && [ "$held" = unset ]; then
    unset_from_environment+=("$entry")
  elif [ -n "${!variable:-}" ]; then
    set_from_environment+=("$entry")
  elif [ "$held" = unset ] && [ "$required" = required ] && [ -t 0 ]; then
    asked+=("$entry")
  elif [ "$held" = unset ] && [ "$required" = required ]; then
    missing+=("$key (environment variable $variable)")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Stack $stack is missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

# Unset keys first: until every required key is set, the CLI cannot read any value back.
for entry in ${unset_from_environment[@]+"${unset_from_environment[@]}"}; do
  variable=${entry#*:}
  printf '%s' "${!variable}" | set_key "${entry%%:*}"
done
for entry in ${asked[@]+"${asked[@]}"}; do
  echo "Stack $stack needs ${entry%%:*} (or set ${entry#*:} in the environment)."
  set_key "${entry%%:*}"
done

# A value already set is replaced only when it differs, since every encryption rewrites it in the stack file. One
# CLI call reads them all back.
if [ "${#set_from_environment[@]}" -eq 0 ]; then
  exit 0
fi
# shellcheck disable=SC2016 # JavaScript, not shell, between the single quotes
changed=$(pulumi config --stack "$stack" --json --show-secrets | node -e '
  const project = require("yaml").parse(require("fs").readFileSync("Pulumi.yaml", "utf8")).name;
  const values = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const entry of process.argv.slice(1)) {
    const [key, variable] = entry.split(":");
    if (values[`${project}:${key}`]?.value !== process.env[variable]) console.log(entry);
  }' "${set_from_environment[@]}")
for entry in $changed; do
  variable=${entry#*:}
  printf '%s' "${!variable}" | set_key "${entry%%:*}"
done
