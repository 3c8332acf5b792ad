"""The service as it runs in the image: gunicorn with gunicorn.conf.py, real processes, real sockets."""

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg2
import pytest
from support import SERVICE_DIR, execute, free_port, http, row_count, service_env, start_gunicorn, wait_healthy

from requests_service import db

TASK = "f" * 24


def with_search_path(url: str, schema: str) -> str:
    # libpq's options parameter puts every connection of the service into its own, empty schema.
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def run_healthcheck(port: int) -> subprocess.CompletedProcess:
    """Run the Dockerfile's HEALTHCHECK command (exec form) with this interpreter in place of the image's python."""
    dockerfile = (SERVICE_DIR / "Dockerfile").read_text()
    command = json.loads(re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])", dockerfile).group(1))
    assert command[0] == "python"
    return subprocess.run(
        [sys.executable, *command[1:]], env=service_env(PORT=str(port)), capture_output=True, timeout=10
    )


@pytest.fixture
def empty_schema(database_url):
    """A PostgreSQL schema with no requests table yet, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    execute(database_url, f"CREATE SCHEMA {name}")
    yield name
    execute(database_url, f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn and make sure it is gone at the end, whatever the test did."""
    procs = []

    def start(env):
        proc = start_gunicorn(env, tmp_path / f"gunicorn{len(procs)}.log")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_concurrent_schema_creation_in_threads(database_url, empty_schema):
    # Eight sessions create the schema at the same moment; the advisory lock makes them take turns.
    url = with_search_path(database_url, empty_schema)
    barrier = threading.Barrier(8)
    errors = []

    def create():
        conn = psycopg2.connect(url)
        try:
            barrier.wait()
            db.create_schema(conn)
        except Exception as error:  # collected, asserted below
            errors.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert row_count(url) == 0


def test_workers_start_together_on_an_empty_database(database_url, empty_schema, tasks, gunicorn, tmp_path):
    port = free_port()
    env = service_env(
        DATABASE_URL=with_search_path(database_url, empty_schema),
        TASKS_URL=tasks.url,
        PORT=str(port),
        WEB_CONCURRENCY="4",
    )
    proc = gunicorn(env)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    tasks.known.add(TASK)
    status, body = http("POST", f"http://127.0.0.1:{port}/requests", {"task_id": TASK, "requester": "ana"})
    assert status == 201
    assert body["status"] == "pending"

    # The image's HEALTHCHECK command passes against this server, and fails where nothing answers.
    assert run_healthcheck(port).returncode == 0
    assert run_healthcheck(free_port()).returncode != 0

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    log = (tmp_path / "gunicorn0.log").read_text()
    assert log.count("Booting worker") == 4
    assert "Traceback" not in log
    assert "failed to boot" not in log.lower()
    assert "POST /requests 201" in log  # the app's own request line on stdout


def test_sigterm_lets_the_in_flight_request_finish(database_url, tasks, gunicorn, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The tasks stand-in takes 3 s to answer, and the service waits up to 6: a POST stays in flight for 3 s.
    env = service_env(DATABASE_URL=database_url, TASKS_URL=tasks.url, PORT=str(port), TASKS_TIMEOUT="6")
    proc = gunicorn(env)
    wait_healthy(base, proc)
    execute(database_url, "TRUNCATE requests RESTART IDENTITY")  # the service has created the table at start
    tasks.known.add(TASK)
    tasks.mode, tasks.delay = "slow", 3.0

    result = {}

    def post():
        result["answer"] = http("POST", f"{base}/requests", {"task_id": TASK, "requester": "ana"})
        result["at"] = time.monotonic()

    client = threading.Thread(target=post)
    client.start()
    assert tasks.asked.wait(10), "the POST never reached the tasks stand-in"
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)

    exit_code = proc.wait(10)  # raises TimeoutExpired past 10 s
    exited = time.monotonic()
    client.join(10)

    status, body = result["answer"]
    assert status == 201, body
    assert result["at"] > signalled + 2  # it really was in flight when SIGTERM arrived
    assert exit_code == 0
    assert exited - signalled < 10
    assert row_count(database_url) == 1
    with pytest.raises(ConnectionRefusedError):
        http("GET", f"{base}/health", timeout=2)  # nothing listens any more


def test_secrets_from_files_reach_the_master_and_the_workers(database_url, tasks, gunicorn, tmp_path):
    # As the hosts run it: DATABASE_URL only in a file (mode 0600), named by DATABASE_URL_FILE.
    secret = tmp_path / "database_url"
    secret.write_text(database_url + "\n")
    secret.chmod(0o600)
    port = free_port()
    proc = gunicorn(service_env(DATABASE_URL_FILE=str(secret), TASKS_URL=tasks.url, PORT=str(port)))
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    tasks.known.add(TASK)
    status, body = http("POST", f"http://127.0.0.1:{port}/requests", {"task_id": TASK, "requester": "ana"})
    assert status == 201, body
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert database_url not in (tmp_path / "gunicorn0.log").read_text()
