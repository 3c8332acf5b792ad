#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster on loopback, for tests and local runs.
#   postgres.sh start DIR PORT   creates the cluster in DIR if needed, starts it, prints its URL
#   postgres.sh stop DIR         stops it (the data stays, so a later start resumes it)
set -euo pipefail

bindir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "postgres.sh: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)" >&2; exit 1; }

# PostgreSQL refuses to run as root, so root runs it as the postgres user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Root's temporary folders are often 0700; the postgres user needs to pass through them to reach DIR.
let_owner_reach() {
  local path
  path=$(dirname "$(realpath -m "$1")")
  while [ "$path" != / ]; do
    runuser -u postgres -- test -x "$path" || chmod o+x "$path"
    path=$(dirname "$path")
  done
}

case "${1:-}" in
  start)
    dir=$2 port=$3
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      chmod 700 "$dir"
      if [ "$(id -u)" = 0 ]; then
        let_owner_reach "$dir"
        chown postgres: "$dir"
      fi
      as_owner "$bindir/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync >/dev/null
    fi
    as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=$2
    [ -f "$dir/postmaster.pid" ] || exit 0
    as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
