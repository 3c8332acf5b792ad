"""A database that stops answering (its processes frozen with SIGSTOP, or a COMMIT that never returns): every request
gets a 503 within 3 s, /health included, and a 503 either changed nothing or says that the outcome is unknown; the
service serves again within 1 s of the database answering (docs/requests.md, §Database timeouts).

These tests freeze and reconfigure a PostgreSQL cluster of their own (never the shared one)."""

import threading
import time

import psycopg2
import pytest
from support import Cluster, execute, free_port, http, row_count, service_env, start_gunicorn, wait_healthy

TASK = "5" * 24
BODY = {"task_id": TASK, "requester": "ana"}
ANSWERED_WITHIN = 3.0  # seconds, with the database frozen (docs/requests.md)
BACK_WITHIN = 1.0  # seconds after the database answers again


@pytest.fixture
def service(cluster, tasks, tmp_path):
    """gunicorn as the image runs it (2 workers of 4 threads) on the cluster: its base URL."""
    port = free_port()
    proc = start_gunicorn(service_env(DATABASE_URL=cluster.url, TASKS_URL=tasks.url, PORT=str(port)), tmp_path / "log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)


def timed(method: str, url: str, body=None) -> tuple[int, dict, float]:
    started = time.monotonic()
    status, answer = http(method, url, body, timeout=10)
    return status, answer, time.monotonic() - started


def test_a_frozen_database_gets_a_503_within_3_s_then_service_within_1_s(service, cluster, tasks):
    tasks.known.add(TASK)
    assert http("POST", f"{service}/requests", BODY)[0] == 201
    calls = [
        *[("GET", "/health", None)] * 5,
        ("GET", "/requests", None),
        ("GET", "/requests/1", None),
        ("POST", "/requests", {**BODY, "requester": "bo"}),
        ("PATCH", "/requests/1", {"status": "rejected"}),
        ("DELETE", "/requests/1", None),
        *[("GET", "/requests?status=pending", None)] * 4,
    ]  # 14 at once: more than the 8 threads, so some wait for one
    answers: list = [None] * len(calls)

    def call(index, method, path, body):
        answers[index] = (method, path, *timed(method, f"{service}{path}", body))

    frozen = cluster.freeze()
    try:
        threads = [threading.Thread(target=call, args=(i, *c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        later = timed("GET", f"{service}/health")  # once the service knows: at once
    finally:
        Cluster.thaw(frozen)
        thawed = time.monotonic()

    for method, path, status, answer, took in answers:
        assert status == 503, (method, path, answer)
        assert took < ANSWERED_WITHIN, f"{method} {path} answered after {took:.1f} s"
        assert answer["error"] in ("database unavailable", "database unreachable"), answer
    assert later[0] == 503
    assert later[2] < 0.5

    # Both workers serve again: a new connection goes to either, so six in a row must all be served.
    while not all(http("GET", f"{service}/health", timeout=5)[0] == 200 for _ in range(6)):
        assert time.monotonic() - thawed < BACK_WITHIN, "still 503 a second after the database answered again"
        time.sleep(0.02)
    # Every 503 changed nothing: request 1 is still there and pending, and no second request was made.
    assert http("GET", f"{service}/requests/1")[1]["status"] == "pending"
    assert row_count(cluster.url) == 1
    created = http("POST", f"{service}/requests", {**BODY, "requester": "cy"})
    assert created[0] == 201, created


def make_commits_hang(url: str, hang: bool) -> None:
    """COMMIT waits for a synchronous standby that does not exist (`hang`): the change is made, its answer never comes,
    as when the server stops right after committing. Or not: the waiting COMMITs finish. Returns once every server
    process has the setting (a new connection reads it, and the postmaster has signalled the others) and, when
    released, once no COMMIT waits any more."""
    setting = "SET synchronous_standby_names = 'nobody'" if hang else "RESET synchronous_standby_names"
    execute(url, f"ALTER SYSTEM {setting}")
    execute(url, "SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while scalar(url, "SHOW synchronous_standby_names") != ("nobody" if hang else ""):
        assert time.monotonic() < deadline, "PostgreSQL did not take the new setting"
        time.sleep(0.05)
    while not hang and scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"):
        assert time.monotonic() < deadline, "COMMITs still wait"
        time.sleep(0.05)


def scalar(url: str, sql: str):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def commits_hang(cluster):
    """COMMITs hang for the test; it calls the fixture's value to let them finish (and it is done at the end)."""
    make_commits_hang(cluster.url, hang=True)
    yield lambda: make_commits_hang(cluster.url, hang=False)
    make_commits_hang(cluster.url, hang=False)


@pytest.fixture
def client(make_app, cluster):
    return make_app(DATABASE_URL=cluster.url).test_client()


def wait_until_served(client) -> None:
    # A wait that ran out made the service stop waiting on the database until it answers again (at once here).
    deadline = time.monotonic() + 5
    while client.get("/health").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def assert_outcome_unknown(response, says: str) -> None:
    assert response.status_code == 503
    assert response.get_json()["error"] == "outcome unknown"
    [detail] = response.get_json()["details"]
    assert "may or may not" in detail["message"]
    assert says in detail["message"]


def test_an_unanswered_commit_of_a_create_is_outcome_unknown_and_its_key_makes_the_retry_safe(
    client, tasks, cluster, commits_hang
):
    tasks.known.add(TASK)
    started = time.monotonic()
    response = client.post("/requests", json=BODY, headers={"Idempotency-Key": "k1"})
    assert time.monotonic() - started < ANSWERED_WITHIN
    assert_outcome_unknown(response, "A retry with the same Idempotency-Key is safe")
    commits_hang()
    wait_until_served(client)
    assert row_count(cluster.url) == 1  # it was made
    retry = client.post("/requests", json=BODY, headers={"Idempotency-Key": "k1"})
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert row_count(cluster.url) == 1


def test_an_unanswered_commit_without_a_key_says_to_look_first(client, tasks, commits_hang):
    tasks.known.add(TASK)
    assert_outcome_unknown(client.post("/requests", json=BODY), "send an Idempotency-Key")


def test_an_unanswered_commit_of_a_decision_or_deletion_is_outcome_unknown(client, tasks, cluster):
    tasks.known.add(TASK)
    assert client.post("/requests", json=BODY).status_code == 201
    assert client.post("/requests", json=BODY).status_code == 201
    make_commits_hang(cluster.url, hang=True)
    try:
        assert_outcome_unknown(client.patch("/requests/1", json={"status": "approved"}), "already decided answers 409")
        wait_until_served(client)
        assert_outcome_unknown(client.delete("/requests/2"), "already deleted answers 404")
    finally:
        make_commits_hang(cluster.url, hang=False)
    wait_until_served(client)
    # Both were applied; their retries say so.
    assert client.patch("/requests/1", json={"status": "approved"}).status_code == 409
    assert client.delete("/requests/2").status_code == 404


def test_the_server_side_timeouts_are_set_on_every_connection(make_app, database_url):
    # docs/requests.md, §Database timeouts: the server ends long statements and lock waits itself, before the
    # client's 2 s; a transaction may stay idle for TASKS_TIMEOUT + 5 s. The URL's own options are kept beside them.
    app = make_app(DATABASE_URL=f"{database_url}?options=-cwork_mem%3D5MB", TASKS_TIMEOUT="3")
    with app.app_context():
        conn = app.extensions["db"].getconn()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT current_setting('statement_timeout') AS statement,"
                    " current_setting('lock_timeout') AS lock,"
                    " current_setting('idle_in_transaction_session_timeout') AS idle,"
                    " current_setting('work_mem') AS mem"
                )
                settings = cur.fetchone()
        finally:
            app.extensions["db"].putconn(conn)
    assert settings == {"statement": "1500ms", "lock": "1s", "idle": "8s", "mem": "5MB"}
    assert conn.get_dsn_parameters()["tcp_user_timeout"] == "2000"
