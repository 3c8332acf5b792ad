"""Where a request's time goes in the requests service, and in its bare WSGI baseline: cProfile over the bench's
workload cycle (6 reads by id, 1 list page, 2 creates, 1 decision), run in this process through each app's WSGI
callable, against a real PostgreSQL and a tasks stand-in that answers at once. gunicorn is left out: the service and
its baseline run on the same gunicorn settings, so the difference between them is here. No load, one thread: the
figures are CPU time per request, by where it is spent (docs/performance.md, §Where the time goes).

    DATABASE_URL=postgresql://... .cache/venv/bin/python bench/profile_requests.py [--requests 3000] [--top 25]
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import socket
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
from werkzeug.test import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "services" / "requests"), str(ROOT / "bench" / "baselines")]

TASK = "a" * 24
SEEDED = 2000
# Where a function's own time is counted, by its file's path and name, first match wins. PostgreSQL is reached
# through libpq (C) and waited on with select() in the service's wait callback; the tasks service through Python's
# sockets. The test client's own work (werkzeug/test.py) stands for gunicorn's, which both apps share.
PLACES = [
    ("PostgreSQL: psycopg2, libpq and waiting for answers", r"psycopg2|select\.select|'poll' of 'psycopg2"),
    ("the tasks service: urllib, http.client, sockets", r"urllib/request|urllib/response|http/client|socket|email/"),
    ("the test client (gunicorn's part in the bench)", r"werkzeug/test\.py|werkzeug/datastructures/headers"),
    ("the service's code", r"requests_service/"),
    ("the baseline's code", r"requests_baseline"),
    ("Flask", r"flask/"),
    ("werkzeug (requests, responses, routing)", r"werkzeug/"),
    ("logging", r"logging/"),
    ("json", r"json/"),
    ("other", r""),
]


class TasksStandIn(BaseHTTPRequestHandler):
    """The tasks service's GET /tasks/{id}: every id exists."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        body = json.dumps({"id": self.path.rsplit("/", 1)[-1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def seed(url: str) -> list[int]:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE requests RESTART IDENTITY")
        cur.execute(
            "INSERT INTO requests (task_id, requester, note) SELECT %s, 'seeder ' || n, 'there before the load'"
            " FROM generate_series(1, %s) AS n RETURNING id",
            (TASK, SEEDED),
        )
        ids = [row[0] for row in cur.fetchall()]
    conn.close()
    return ids


def cycle(client: Client, ids: list[int], pending: list[int], step: int) -> None:
    """The bench's cycle of ten (bench/lib/workloads.mjs), one request per call."""
    kind = ["read", "read", "list", "read", "create", "read", "decide", "read", "create", "read"][step % 10]
    if kind == "read":
        client.get(f"/requests/{ids[step * 7 % len(ids)]}")
    elif kind == "list":
        client.get("/requests?status=pending&limit=20&sort=created_at" if step % 20 else "/requests?limit=20&offset=40")
    elif kind == "create":
        body = json.dumps({"task_id": TASK, "requester": f"profile {step}", "note": "created under load"})
        answer = client.post("/requests", data=body, content_type="application/json")
        pending.append(json.loads(answer.get_data())["id"])
    else:
        status = "approved" if step % 20 else "rejected"
        client.patch(f"/requests/{pending.pop()}", data=json.dumps({"status": status}), content_type="application/json")


def cpu_per_request(app, url: str, count: int) -> float:
    """Milliseconds of this process's CPU per request, without the profiler, every thread's: the service's thread
    that ships logs to Papertrail, and the tasks stand-in's (a little, for both apps alike). Waits are not counted."""
    ids = seed(url)
    pending = list(reversed(ids))
    client = Client(app)
    for step in range(100):
        cycle(client, ids, pending, step)
    started = time.process_time()
    for step in range(count):
        cycle(client, ids, pending, step)
    return (time.process_time() - started) / count * 1000


def profile(name: str, app, url: str, count: int) -> tuple[float, pstats.Stats]:
    ids = seed(url)
    pending = list(reversed(ids))
    client = Client(app)
    for step in range(100):  # warm up: connections, imports, caches
        cycle(client, ids, pending, step)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for step in range(count):
        cycle(client, ids, pending, step)
    profiler.disable()
    per_request = (time.perf_counter() - started) / count * 1000
    print(f"\n== {name}: {count} requests, {per_request:.2f} ms each (wall time, profiler on)")
    return per_request, pstats.Stats(profiler)


def by_place(stats: pstats.Stats, count: int) -> None:
    totals: dict[str, float] = defaultdict(float)
    for (path, _, function), (_, _, own, _, _) in stats.stats.items():
        place = next(label for label, pattern in PLACES if re.search(pattern, f"{path} {function}"))
        totals[place] += own
    total = sum(totals.values())
    for place, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {seconds / count * 1000:7.3f} ms  {seconds / total:5.1%}  {place}")


def top(stats: pstats.Stats, lines: int) -> None:
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(lines)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-(lines + 2) * 200 :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    tasks = ThreadingHTTPServer(("127.0.0.1", 0), TasksStandIn)
    threading.Thread(target=tasks.serve_forever, daemon=True).start()
    os.environ["TASKS_URL"] = f"http://127.0.0.1:{tasks.server_address[1]}"

    from requests_service import create_app  # after sys.path is set

    # The service as the bench runs it: LOG_LEVEL info, every request logged to stdout (here a discarded stream) and
    # to Papertrail over UDP (here a socket that reads nothing: the kernel drops what does not fit).
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the whole run
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    config = {"DATABASE_URL": url, "TASKS_URL": os.environ["TASKS_URL"], "LOG_LEVEL": "INFO"}
    papertrail = {"PAPERTRAIL_DESTINATION": f"127.0.0.1:{sink.getsockname()[1]}", "PAPERTRAIL_PROTOCOL": "udp"}
    import requests_baseline

    apps = (("service", create_app({**config, **papertrail})), ("baseline", requests_baseline.app))
    cpu = {name: cpu_per_request(app, url, options.requests) for name, app in apps}
    results = {name: profile(name, app, url, options.requests) for name, app in apps}
    sys.stdout = sys.__stdout__
    print("CPU of this process per request, without the profiler:")
    for name, milliseconds in cpu.items():
        print(f"  {name}: {milliseconds:.3f} ms")
    print(f"  service / baseline: {cpu['service'] / cpu['baseline']:.2f}")
    for name, (per_request, stats) in results.items():
        print(f"\n== {name}: {per_request:.2f} ms a request (wall, profiler on); own time by place, per request:")
        by_place(stats, options.requests)
        print(f"-- {name}: the {options.top} functions with the most own time")
        top(stats, options.top)
    tasks.shutdown()


if __name__ == "__main__":
    main()
