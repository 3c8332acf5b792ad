"""Idempotency-Key on POST /requests, end to end on the real PostgreSQL (docs/api.md, docs/requests.md): a retry
returns the first answer and creates nothing; another body with the key is a 422; a key still being processed is a
409; a 503 stores nothing; keys expire after 24 h; the answer is stored in the same transaction as the request."""

import json
import threading

import psycopg2
import pytest
from support import execute, row_count

TASK = "6" * 24
BODY = {"task_id": TASK, "requester": "ana"}
KEY = "Idempotency-Key"


@pytest.fixture
def known_task(tasks):
    tasks.known.add(TASK)


@pytest.fixture
def keys(database_url):
    execute(database_url, "TRUNCATE idempotency_keys")


def post(client, key, body=BODY):
    headers = {} if key is None else {KEY: key}
    return client.post("/requests", data=json.dumps(body), content_type="application/json", headers=headers)


def stored_keys(database_url) -> list[str]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT key FROM idempotency_keys ORDER BY key")
        found = [row[0] for row in cur.fetchall()]
    conn.close()
    return found


def test_a_retry_returns_the_first_answer_and_creates_nothing(client, known_task, keys, tasks, database_url):
    first = post(client, "order-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    retry = post(client, "order-1")
    assert retry.status_code == 201
    assert retry.get_data() == first.get_data()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert row_count(database_url) == 1
    assert tasks.seen == [f"/tasks/{TASK}"]  # the retry did not even ask the tasks service


def test_the_quoted_form_is_the_same_key(client, known_task, keys, database_url):
    assert post(client, "abc").status_code == 201
    assert post(client, '"abc"').headers["Idempotent-Replayed"] == "true"
    assert post(client, '"a\\"b"').status_code == 201  # an escaped quote: the key a"b
    assert post(client, 'a"b').headers["Idempotent-Replayed"] == "true"
    assert row_count(database_url) == 2


@pytest.mark.parametrize(
    "key",
    ["", "a b", "x" * 256, '"' + "x" * 256 + '"', '"abc', '""', '"a b"', '"a\\b"', "ünï"],
    ids=[
        "empty",
        "a space",
        "256 characters",
        "256 quoted",
        "unterminated",
        "empty quoted",
        "quoted space",
        "bad escape",
        "not ASCII",
    ],
)
def test_a_malformed_key_is_400_naming_it(client, known_task, keys, database_url, key):
    response = post(client, key.encode("utf-8").decode("latin-1"))
    assert response.status_code == 400
    assert [d["field"] for d in response.get_json()["details"]] == [KEY]
    assert row_count(database_url) == 0


def test_the_longest_key_is_accepted(client, known_task, keys):
    assert post(client, "k" * 255).status_code == 201
    assert post(client, '"' + "k" * 255 + '"').headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_422(client, known_task, keys, database_url):
    assert post(client, "order-2").status_code == 201
    response = post(client, "order-2", {**BODY, "note": "changed"})
    assert response.status_code == 422
    assert [d["field"] for d in response.get_json()["details"]] == [KEY]
    # The body's bytes count: the same JSON written otherwise is another body.
    same_json = client.post(
        "/requests", data=json.dumps(BODY, indent=1), content_type="application/json", headers={KEY: "order-2"}
    )
    assert same_json.status_code == 422
    assert row_count(database_url) == 1


def test_a_key_still_being_processed_is_409(make_app, known_task, keys, tasks, database_url):
    # The first request waits on the tasks service for a second; the second arrives meanwhile.
    client = make_app(TASKS_TIMEOUT="5").test_client()
    before = row_count(database_url)
    tasks.mode, tasks.delay = "slow", 1.0
    first = {}
    thread = threading.Thread(target=lambda: first.update(response=post(client, "order-3")))
    thread.start()
    assert tasks.asked.wait(5)
    second = post(client, "order-3")
    thread.join(10)
    assert second.status_code == 409
    assert [d["field"] for d in second.get_json()["details"]] == [KEY]
    assert first["response"].status_code == 201
    assert post(client, "order-3").get_data() == first["response"].get_data()
    assert row_count(database_url) == before + 1


def test_a_4xx_is_stored_too(client, tasks, keys, database_url):
    assert post(client, "order-4").status_code == 422  # no such task yet
    tasks.known.add(TASK)
    replayed = post(client, "order-4")
    assert replayed.status_code == 422
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert row_count(database_url) == 0
    assert post(client, "order-5", {"task_id": TASK}).status_code == 400
    assert post(client, "order-5", {"task_id": TASK}).headers["Idempotent-Replayed"] == "true"


def test_a_503_stores_nothing(client, tasks, keys, database_url):
    tasks.known.add(TASK)
    tasks.mode = "error"
    assert post(client, "order-6").status_code == 503
    assert stored_keys(database_url) == []
    tasks.mode = "normal"
    created = post(client, "order-6")
    assert created.status_code == 201
    assert "Idempotent-Replayed" not in created.headers
    assert row_count(database_url) == 1


def test_the_answer_is_stored_in_the_transaction_of_the_request(client, known_task, keys, database_url):
    # Another session holds the keys' table, so the answer cannot be stored within lock_timeout: the request made
    # in the same transaction is rolled back with it, and the client gets a 503 that changed nothing.
    blocker = psycopg2.connect(database_url)
    with blocker.cursor() as cur:
        cur.execute("LOCK TABLE idempotency_keys IN EXCLUSIVE MODE")
    try:
        response = post(client, "order-7")
    finally:
        blocker.close()
    assert response.status_code == 503
    assert response.get_json()["error"] == "database unavailable"
    assert row_count(database_url) == 0
    assert stored_keys(database_url) == []
    assert post(client, "order-7").status_code == 201


def test_keys_expire_after_24_hours(client, known_task, keys, database_url):
    first = post(client, "order-8")
    # 24 h pass: the key's expiry, set by the database to 24 h after its first use, is now.
    execute(database_url, "UPDATE idempotency_keys SET expires_at = expires_at - interval '24 hours'")
    again = post(client, "order-8")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]
    assert row_count(database_url) == 2
    assert post(client, "order-8").get_data() == again.get_data()  # the key now stands for the new request


def test_the_expiry_is_24_hours_after_the_first_use(client, known_task, keys, database_url):
    post(client, "order-9")
    post(client, "order-9")
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT expires_at - now() FROM idempotency_keys WHERE key = 'order-9'")
        left = cur.fetchone()[0]
    conn.close()
    assert 23.9 * 3600 < left.total_seconds() <= 24 * 3600


def test_expired_keys_are_deleted_by_later_requests(client, known_task, keys, database_url):
    post(client, "old-1")
    post(client, "old-2", {**BODY, "note": "2"})
    execute(database_url, "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    post(client, "new-1", {**BODY, "note": "3"})
    assert stored_keys(database_url) == ["new-1"]


def test_without_a_key_every_post_creates(client, known_task, keys, database_url):
    assert post(client, None).status_code == 201
    assert post(client, None).status_code == 201
    assert row_count(database_url) == 2
    assert stored_keys(database_url) == []
