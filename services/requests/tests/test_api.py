"""The API end to end against the real database: CRUD, pagination, filters and status transitions."""

import pytest
from support import row_count

TASK_A = "a" * 24
TASK_B = "0123456789abcdef01234567"
STATUSES = ("pending", "approved", "rejected")
# The documented transition table: a request is decided once, and approved and rejected are final.
ALLOWED = {("pending", "approved"), ("pending", "rejected")}


def create(client, task_id=TASK_A, requester="ana", **extra):
    response = client.post("/requests", json={"task_id": task_id, "requester": requester, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_health_reports_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


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
    assert created["created_at"] == created["updated_at"]
    assert response.headers["Location"].endswith("/requests/1")
    assert tasks.seen == [f"/tasks/{TASK_A}"]  # the task was checked with the tasks service

    without_note = create(client, TASK_B, "bo")
    assert without_note["note"] is None

    assert client.get("/requests/1").get_json() == created

    response = client.patch("/requests/1", json={"status": "approved"})
    assert response.status_code == 200
    approved = response.get_json()
    assert approved["status"] == "approved"
    assert approved["updated_at"] > approved["created_at"]
    assert client.get("/requests/1").get_json()["status"] == "approved"

    assert client.delete("/requests/1").status_code == 204
    missing = client.get("/requests/1")
    assert missing.status_code == 404
    assert missing.get_json()["details"] == [{"field": "id", "message": "there is no request with id 1"}]
    assert client.delete("/requests/1").status_code == 404
    assert client.patch("/requests/1", json={"status": "rejected"}).status_code == 404
    assert row_count(database_url) == 1


def test_list_pagination_and_filters(client, tasks):
    tasks.known.update({TASK_A, TASK_B})
    ids_a = [create(client, TASK_A, f"a{i}")["id"] for i in range(3)]
    ids_b = [create(client, TASK_B, f"b{i}")["id"] for i in range(2)]
    client.patch(f"/requests/{ids_a[0]}", json={"status": "approved"})
    client.patch(f"/requests/{ids_b[0]}", json={"status": "rejected"})

    everything = client.get("/requests").get_json()
    assert everything["total"] == 5
    assert (everything["limit"], everything["offset"]) == (20, 0)
    assert [r["id"] for r in everything["items"]] == ids_a + ids_b

    pages = [client.get(f"/requests?limit=2&offset={offset}").get_json() for offset in (0, 2, 4, 6)]
    assert [[r["id"] for r in page["items"]] for page in pages] == [
        (ids_a + ids_b)[0:2],
        (ids_a + ids_b)[2:4],
        (ids_a + ids_b)[4:],
        [],
    ]
    assert all(page["total"] == 5 for page in pages)

    by_task = client.get(f"/requests?task_id={TASK_B}").get_json()
    assert [r["id"] for r in by_task["items"]] == ids_b
    assert by_task["total"] == 2

    pending = client.get("/requests?status=pending").get_json()
    assert [r["id"] for r in pending["items"]] == ids_a[1:] + ids_b[1:]

    both = client.get(f"/requests?status=approved&task_id={TASK_A}").get_json()
    assert [r["id"] for r in both["items"]] == [ids_a[0]]
    assert client.get(f"/requests?status=approved&task_id={TASK_B}").get_json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }

    page = client.get("/requests?limit=1&offset=1&status=pending").get_json()
    assert [r["id"] for r in page["items"]] == [ids_a[2]]
    assert page["total"] == 3


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
