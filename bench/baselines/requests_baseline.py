"""The requests baseline: the same SQL as the requests service, with psycopg2 alone, as a bare WSGI callable.

No Flask, no validation, no logging. gunicorn serves it with the service's own gunicorn.conf.py (same workers,
threads and timeouts): gunicorn is the server in both cases, not the framework being measured. A create does the
same work as the service's: it first asks the tasks service over HTTP (urllib, as the service does) whether the
task exists, and only then inserts; an approval asks it too.

    gunicorn --config gunicorn.conf.py --pythonpath bench/baselines requests_baseline:app   (from services/requests)
"""

import json
import os
import re
import threading
import urllib.error
import urllib.request

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

# gunicorn runs from services/requests, so the service's package is importable: its statements, not copies.
from requests_service import queries

ITEM = re.compile(r"^/requests/([0-9]{1,19})$")

_pool = None
_pool_lock = threading.Lock()
_tasks = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pool():
    # One pool per worker process, made after the fork, kept like the service's (db.POOL_SIZE): one connection per
    # thread, kept open between requests.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = psycopg2.pool.ThreadedConnectionPool(
                4, 4, os.environ["DATABASE_URL"], connect_timeout=3, cursor_factory=psycopg2.extras.RealDictCursor
            )
    return _pool


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    item = ITEM.match(path)
    conn = None
    try:
        conn = pool().getconn()
        if path == "/requests" and method == "GET":
            status, body = list_requests(conn, environ)
        elif path == "/requests" and method == "POST":
            status, body = create_request(conn, read_json(environ))
        elif item and method == "GET":
            status, body = get_request(conn, int(item.group(1)))
        elif item and method == "PATCH":
            status, body = change_status(conn, int(item.group(1)), read_json(environ)["status"])
        else:
            status, body = "404 Not Found", {"error": "not found"}
    except (psycopg2.Error, psycopg2.pool.PoolError) as error:
        status, body = "503 Service Unavailable", {"error": "database unavailable", "details": [str(error)]}
    finally:
        if conn is not None:
            # Like the service: reads leave psycopg2's implicit transaction open, so it is rolled back on return.
            broken = conn.closed or conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN
            if not broken and conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                try:
                    conn.rollback()
                except psycopg2.Error:
                    broken = True
            pool().putconn(conn, close=broken)
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def list_requests(conn, environ):
    query = dict(pair.split("=", 1) for pair in environ.get("QUERY_STRING", "").split("&") if "=" in pair)
    params = {
        "limit": int(query.get("limit", 20)),
        "offset": int(query.get("offset", 0)),
        "status": query.get("status"),
        "task_id": query.get("task_id"),
        "requester": None,
    }
    with conn.cursor() as cur:
        cur.execute(queries.COUNT, params)
        total = cur.fetchone()["total"]
        cur.execute(queries.LIST[query.get("sort", "-created_at")], params)
        items = [as_json(row) for row in cur.fetchall()]
    return "200 OK", {"items": items, "total": total, "limit": params["limit"], "offset": params["offset"]}


def create_request(conn, fields):
    known = task_exists(fields["task_id"])
    if known is None:
        return "503 Service Unavailable", {"error": "tasks service unavailable"}
    if not known:
        return "422 Unprocessable Entity", {"error": "unknown task"}
    fields = {"task_id": fields["task_id"], "requester": fields["requester"], "note": fields.get("note")}
    with conn.cursor() as cur:
        cur.execute(queries.INSERT, fields)
        row = cur.fetchone()
    conn.commit()
    return "201 Created", as_json(row)


def get_request(conn, request_id):
    with conn.cursor() as cur:
        cur.execute(queries.GET, (request_id,))
        row = cur.fetchone()
    return ("200 OK", as_json(row)) if row else ("404 Not Found", {"error": "request not found"})


def change_status(conn, request_id, new_status):
    if new_status == "approved":  # like the service: an approval first asks whether the task still exists
        with conn.cursor() as cur:
            cur.execute(queries.GET, (request_id,))
            row = cur.fetchone()
        conn.rollback()
        if row is None:
            return "404 Not Found", {"error": "request not found"}
        known = task_exists(row["task_id"])
        if known is None:
            return "503 Service Unavailable", {"error": "tasks service unavailable"}
        if not known:
            return "409 Conflict", {"error": "task no longer exists"}
    with conn.cursor() as cur:
        cur.execute(queries.LOCK_STATUS, (request_id,))
        row = cur.fetchone()
        if row is None:
            return "404 Not Found", {"error": "request not found"}
        if row["status"] != "pending":
            return "409 Conflict", {"error": "invalid status transition"}
        cur.execute(queries.SET_STATUS, (new_status, request_id))
        row = cur.fetchone()
    conn.commit()
    return "200 OK", as_json(row)


def task_exists(task_id):
    """True, False (404), or None when the tasks service cannot say: the service's check (tasks.py), minus logging."""
    url = f"{os.environ['TASKS_URL']}/tasks/{task_id}"
    req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - TASKS_URL is http://
    try:
        with _tasks.open(req, timeout=2) as response:
            json.loads(response.read(1 << 20))
        return True
    except urllib.error.HTTPError as error:
        error.close()
        return False if error.code == 404 else None
    except (OSError, ValueError):
        return None


def read_json(environ):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return json.loads(environ["wsgi.input"].read(length))


def as_json(row):
    return {**row, "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat()}
