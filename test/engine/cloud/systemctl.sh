#!/usr/bin/env bash
# systemctl as a rig host needs it, for the units its user data writes to /etc/systemd/system: `enable --now` and
# `start` run ExecStartPre (a leading - ignores a failure), then ExecStart, kept running as Restart= would (or once,
# for Type=oneshot); `stop` ends it and runs ExecStop; `daemon-reload` and `disable` have nothing to do here.
set -euo pipefail

unit_path() { echo "/etc/systemd/system/$1"; }
# The values of KEY= in a unit, one per line.
values() { sed -n "s/^$2=//p" "$(unit_path "$1")"; }

start() {
  local unit=$1 line command
  [ -f "$(unit_path "$unit")" ] || { echo "systemctl: unit $unit not found" >&2; return 5; }
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    if [[ $line == -* ]]; then bash -c "${line#-}" || true; else bash -c "$line"; fi
  done < <(values "$unit" ExecStartPre)
  command=$(values "$unit" ExecStart)
  if [ "$(values "$unit" Type)" = oneshot ]; then
    bash -c "$command"
    return
  fi
  local pause
  pause=$(values "$unit" RestartSec)
  setsid bash -c "while true; do $command; sleep ${pause:-1}; done" >>"/run/$unit.log" 2>&1 </dev/null &
  echo "$!" >"/run/$unit.pid"
}

stop() {
  local unit=$1 command
  [ -f "/run/$unit.pid" ] || return 0
  kill -- "-$(cat "/run/$unit.pid")" 2>/dev/null || true
  rm -f "/run/$unit.pid"
  command=$(values "$unit" ExecStop)
  [ -z "$command" ] || bash -c "$command" || true
}

action=${1:-}
shift || true
now=false
if [ "${1:-}" = --now ]; then
  now=true
  shift
fi
case $action in
  daemon-reload | disable) ;;
  enable) if $now; then for unit; do start "$unit"; done; fi ;;
  start) for unit; do start "$unit"; done ;;
  stop) for unit; do stop "$unit"; done ;;
  restart) for unit; do stop "$unit" && start "$unit"; done ;;
  is-active) [ -f "/run/$1.pid" ] && kill -0 "$(cat "/run/$1.pid")" 2>/dev/null ;;
  *)
    echo "systemctl (rig): unsupported: $action $*" >&2
    exit 1
    ;;
esac
