#!/usr/bin/env bash
# Starts or stops FerretDB on loopback: a real MongoDB wire-protocol server for tests, local runs and the bench.
#   ferretdb.sh start DIR PORT [POSTGRESQL_URL]
#       starts it with its state in DIR, waits for the port, prints its URI. With POSTGRESQL_URL (a server, as
#       scripts/db/postgres.sh prints it), FerretDB keeps its data in PostgreSQL, in a database of its own named after
#       DIR (created when missing); without, in SQLite files under DIR.
#   ferretdb.sh stop DIR
#       stops it (the data stays, so a later start with the same arguments resumes it)
# The binary comes from scripts/install.sh; FERRETDB_BIN overrides its path.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FERRETDB_BIN:-$root/.cache/bin/ferretdb}

# The PostgreSQL URL with its database replaced by one for DIR: two FerretDB servers never share a database, and a
# restart with the same DIR finds its data again.
postgresql_backend() {
  local dir=$1 server_url=$2 database
  database="ferretdb_$(realpath -m "$dir" | sha256sum | cut -c1-16)"
  if [ -z "$(psql "$server_url" -XAtqc "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
    psql "$server_url" -XAtqc "CREATE DATABASE $database" >/dev/null
  fi
  printf '%s' "$server_url" | sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\\1/$database#"
}

case "${1:-}" in
  start)
    dir=$2 port=$3 postgresql_url=${4:-}
    [ -x "$bin" ] || { echo "ferretdb.sh: $bin is missing (run scripts/install.sh)" >&2; exit 1; }
    mkdir -p "$dir/data"
    if [ -n "$postgresql_url" ]; then
      backend=(--handler=postgresql "--postgresql-url=$(postgresql_backend "$dir" "$postgresql_url")")
    else
      backend=(--handler=sqlite "--sqlite-url=file:$dir/data/")
    fi
    # An empty --debug-addr turns off the metrics listener, so several instances can run side by side.
    nohup "$bin" "${backend[@]}" --state-dir="$dir" \
      --listen-addr="127.0.0.1:$port" --debug-addr= --telemetry=disable --log-level=warn \
      >>"$dir/ferretdb.log" 2>&1 &
    echo $! >"$dir/ferretdb.pid"
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "mongodb://127.0.0.1:$port/"
        exit 0
      fi
      kill -0 "$(cat "$dir/ferretdb.pid")" 2>/dev/null || break
      sleep 0.1
    done
    echo "ferretdb.sh: FerretDB did not start on port $port; its log:" >&2
    cat "$dir/ferretdb.log" >&2
    exit 1
    ;;
  stop)
    dir=$2
    [ -f "$dir/ferretdb.pid" ] || exit 0
    pid=$(cat "$dir/ferretdb.pid")
    rm -f "$dir/ferretdb.pid"
    kill "$pid" 2>/dev/null || exit 0
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start DIR PORT [POSTGRESQL_URL] | stop DIR" >&2
    exit 2
    ;;
esac
