"""The API end to end against the real database: CRUD, the list (pages, next, sort, filters), status transitions, and
the answers every route gives (OPTIONS, HEAD, 405, trailing slashes, the document itself)."""

import random
import re
from urllib.parse import quote

import pytest
from support import execute, row_count

from requests_service.health import OPENAPI_FILE

TASK_A = "a" * 24
TASK_B = "0123456789abcdef01234567"
STATUSES = ("pending", "approved", "rejected")
# The documented transition table: a request is decided once, and approved and rejected are final.
ALLOWED = {("pending", "approved"), ("pending", "rejected")}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def create(client, task_id=TASK_A, requester="ana", **extra):
    response = client.post("/requests", json={"task_id": task_id, "requester": requester, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ids(page) -> list[int]:
    return [item["id"] for item in page["items"]]


def test_health_reports_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_crud_flow(client, tasks, database_url):
    tasks.known.update({TASK_A, TASK_B})

    response = client.post("/requests", json={"task_id": TASK_A, "requester": "  ana  ", "note": "please"})
    assert response.status_code == 201
    created = response.get_json()
    assert created["id"] == 1
    assert created["task_id"] == TASK_A
    assert created["requester"] == "ana"  # trimmed
    assert created["note"] == "please"
    assert created["status"] == "pending"
    assert TIME.fullmatch(created["created_at"])
    assert created["created_at"] == created["updated_at"]
    assert response.headers["Location"] == "/requests/1"
    assert tasks.seen == [f"/tasks/{TASK_A}"]  # the task was checked with the tasks service

    without_note = create(client, TASK_B, "bo")
    assert without_note["note"] is None

    assert client.get("/requests/1").get_json() == created

    response = client.patch("/requests/1", json={"status": "approved"})
    assert response.status_code == 200
    approved = response.get_json()
    assert approved["status"] == "approved"
    assert TIME.fullmatch(approved["updated_at"])
    assert approved["updated_at"] >= approved["created_at"]  # the same millisecond is possible
    assert client.get("/requests/1").get_json() == approved

    response = client.delete("/requests/1")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
    missing = client.get("/requests/1")
    assert missing.status_code == 404
    assert missing.get_json()["details"] == [{"field": "id", "message": "there is no request with id 1"}]
    assert client.delete("/requests/1").status_code == 404
    assert client.patch("/requests/1", json={"status": "rejected"}).status_code == 404
    assert row_count(database_url) == 1


def test_list_is_newest_first_with_filters_and_next(client, tasks):
    tasks.known.update({TASK_A, TASK_B})
    ids_a = [create(client, TASK_A, f"a{i}")["id"] for i in range(3)]
    ids_b = [create(client, TASK_B, f"b{i}")["id"] for i in range(2)]
    client.patch(f"/requests/{ids_a[0]}", json={"status": "approved"})
    client.patch(f"/requests/{ids_b[0]}", json={"status": "rejected"})
    newest_first = (ids_a + ids_b)[::-1]

    everything = client.get("/requests").get_json()
    assert everything == {**everything, "total": 5, "limit": 20, "offset": 0, "next": None}
    assert ids(everything) == newest_first

    page = client.get("/requests?limit=2").get_json()
    assert ids(page) == newest_first[:2]
    assert page["next"] == "/requests?limit=2&offset=2&sort=-created_at"
    seen = ids(page)
    while page["next"]:
        page = client.get(page["next"]).get_json()
        seen += ids(page)
        assert page["total"] == 5
    assert seen == newest_first
    assert client.get("/requests?limit=2&offset=6").get_json()["items"] == []

    assert ids(client.get("/requests?sort=created_at").get_json()) == ids_a + ids_b
    by_update = client.get("/requests?sort=-updated_at").get_json()
    assert ids(by_update)[:2] == [ids_b[0], ids_a[0]]  # decided last, so updated last

    by_task = client.get(f"/requests?task_id={TASK_B}").get_json()
    assert (ids(by_task), by_task["total"]) == (ids_b[::-1], 2)
    pending = client.get("/requests?status=pending").get_json()
    assert ids(pending) == [ids_b[1], ids_a[2], ids_a[1]]
    both = client.get(f"/requests?status=approved&task_id={TASK_A}").get_json()
    assert ids(both) == [ids_a[0]]
    assert client.get(f"/requests?status=approved&task_id={TASK_B}").get_json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
        "next": None,
    }

    # The next page keeps every filter and the sort.
    filtered = client.get(f"/requests?status=pending&task_id={TASK_A}&limit=1&sort=created_at").get_json()
    assert ids(filtered) == [ids_a[1]]
    assert filtered["next"] == f"/requests?limit=1&offset=1&sort=created_at&status=pending&task_id={TASK_A}"
    assert ids(client.get(filtered["next"]).get_json()) == [ids_a[2]]


def test_requester_filter_is_exact_after_trimming(client, tasks):
    tasks.known.add(TASK_A)
    ana = create(client, requester="  Ana María  ")["id"]
    create(client, requester="Ana")
    create(client, requester="Ana María Pérez")

    for given in ("Ana María", "  Ana María ", "\u3000Ana María\t"):
        page = client.get(f"/requests?requester={quote(given)}").get_json()
        assert ids(page) == [ana], given
    assert client.get("/requests?requester=ana%20mar%C3%ADa").get_json()["total"] == 0  # case matters
    page = client.get("/requests?requester=%20Ana%20Mar%C3%ADa&limit=1").get_json()
    assert page["next"] is None
    assert ids(client.get("/requests?requester=Ana").get_json()) == [ana + 1]


@pytest.mark.parametrize("column", ["created_at", "updated_at"])
def test_equal_times_are_ordered_by_id_in_the_same_direction(client, database_url, column):
    # 30 requests with one time, rewritten in a shuffled order, so that their order on disk is not their ids' order.
    # A filter makes PostgreSQL sort what it read from the table, instead of walking the (time, id) index.
    rows = f"INSERT INTO requests (task_id, requester) SELECT '{TASK_A}', 'x' FROM generate_series(1, 30)"
    execute(database_url, rows)
    order = list(range(1, 31))
    random.Random(7).shuffle(order)
    for rid in order:
        execute(database_url, f"UPDATE requests SET {column} = '2026-01-01T00:00:00.000Z' WHERE id = {rid}")
    for query in ("", "&status=pending"):
        assert ids(client.get(f"/requests?sort={column}&limit=100{query}").get_json()) == list(range(1, 31))
        assert ids(client.get(f"/requests?sort=-{column}&limit=100{query}").get_json()) == list(range(30, 0, -1))


def test_next_stops_at_the_largest_offset(client, database_url):
    # More rows than the largest offset reaches: a next page past offset 100000 could not be asked for.
    rows = f"INSERT INTO requests (task_id, requester) SELECT '{TASK_A}', 'x' FROM generate_series(1, 100150)"
    execute(database_url, rows)
    page = client.get("/requests?limit=100&offset=99900").get_json()
    assert page["next"] == "/requests?limit=100&offset=100000&sort=-created_at"  # exactly the largest offset
    last = client.get(page["next"]).get_json()
    assert (len(last["items"]), last["total"]) == (100, 100150)
    assert last["next"] is None  # offset 100100 would be refused
    assert client.get("/requests?limit=100&offset=99901").get_json()["next"] is None


def test_list_limit_is_bounded(client, tasks):
    tasks.known.add(TASK_A)
    for i in range(3):
        create(client, requester=f"r{i}")
    assert len(client.get("/requests?limit=100").get_json()["items"]) == 3
    assert client.get("/requests?limit=101").status_code == 400


@pytest.mark.parametrize(
    ("start", "target"),
    [(start, target) for start in STATUSES for target in STATUSES],
)
def test_status_transitions(client, tasks, start, target):
    tasks.known.add(TASK_A)
    rid = create(client)["id"]
    if start != "pending":
        assert client.patch(f"/requests/{rid}", json={"status": start}).status_code == 200

    response = client.patch(f"/requests/{rid}", json={"status": target})

    if (start, target) in ALLOWED:
        assert response.status_code == 200
        assert response.get_json()["status"] == target
    else:
        assert response.status_code == 409
        body = response.get_json()
        assert body["error"] == "invalid status transition"
        assert body["details"][0]["field"] == "status"
        assert client.get(f"/requests/{rid}").get_json()["status"] == start  # unchanged


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/requests", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("/requests/1", {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}),
        ("/health", {"GET", "HEAD", "OPTIONS"}),
        ("/openapi.json", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_options_and_wrong_methods_name_the_allowed_ones(client, path, allowed):
    response = client.options(path)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert set(response.headers["Allow"].split(", ")) == allowed

    if path == "/requests/1":
        assert client.options("/requests/0").status_code == 400  # a bad id, whatever the method

    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
        refused = client.open(path, method=method)
        assert refused.status_code == 405, method
        assert set(refused.headers["Allow"].split(", ")) == allowed
        assert refused.get_json()["error"] == "method not allowed"


@pytest.mark.parametrize(
    "path", ["/requests/", "/requests/1/", "/health/", "/openapi.json/", "//requests", "/requests//1"]
)
def test_trailing_and_doubled_slashes_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not found"


def test_head_answers_like_get_without_a_body(client):
    for path in ("/health", "/requests", "/requests/1", "/openapi.json"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code, path
        assert head.get_data() == b""
        assert head.headers["Content-Type"] == get.headers["Content-Type"]


def test_the_document_is_served_as_it_is_in_the_repository(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.get_data() == OPENAPI_FILE.read_bytes()
