#!/usr/bin/env bash
# Starts or stops FerretDB (SQLite backend) on loopback: a real MongoDB wire-protocol server for tests and local runs.
#   ferretdb.sh start DIR PORT   starts it with its data in DIR, waits for the port, prints its URI
#   ferretdb.sh stop DIR         stops it (the data stays, so a later start resumes it)
# The binary comes from scripts/install.sh; FERRETDB_BIN overrides its path.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FERRETDB_BIN:-$root/.cache/bin/ferretdb}

case "${1:-}" in
  start)
    dir=$2 port=$3
    [ -x "$bin" ] || { echo "ferretdb.sh: $bin is missing (run scripts/install.sh)" >&2; exit 1; }
    mkdir -p "$dir/data"
    # An empty --debug-addr turns off the metrics listener, so several instances can run side by side.
    nohup "$bin" --handler=sqlite --sqlite-url="file:$dir/data/" --state-dir="$dir" \
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
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
