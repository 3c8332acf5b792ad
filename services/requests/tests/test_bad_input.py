"""Malformed requests: each gets a 4xx with a JSON `{ error, details }` body, and nothing in the database changes."""

import json

import pytest
from support import row_count

TASK = "c" * 24
JSON = "application/json"

# (case id, method, path, body: bytes sent as is or an object sent as JSON, content type, status, field named)
CASES = [
    # bodies of POST /requests
    ("truncated JSON", "POST", "/requests", b'{"task_id": "', JSON, 400, None),
    ("empty body", "POST", "/requests", b"", JSON, 400, None),
    ("trailing garbage", "POST", "/requests", b'{"requester": "a"} x', JSON, 400, None),
    ("single quotes", "POST", "/requests", b"{'requester': 'a'}", JSON, 400, None),
    ("not UTF-8", "POST", "/requests", b'{"requester": "\xff\xfe"}', JSON, 400, None),
    ("NaN literal", "POST", "/requests", b'{"task_id": NaN}', JSON, 400, None),
    ("nested too deeply", "POST", "/requests", b"[" * 5000 + b"]" * 5000, JSON, 400, None),
    ("array body", "POST", "/requests", [TASK, "ana"], JSON, 400, None),
    ("string body", "POST", "/requests", "ana", JSON, 400, None),
    ("null body", "POST", "/requests", None, JSON, 400, None),
    ("number body", "POST", "/requests", 42, JSON, 400, None),
    ("empty object", "POST", "/requests", {}, JSON, 400, "task_id"),
    ("missing requester", "POST", "/requests", {"task_id": TASK}, JSON, 400, "requester"),
    ("missing task_id", "POST", "/requests", {"requester": "ana"}, JSON, 400, "task_id"),
    ("task_id a number", "POST", "/requests", {"task_id": 12, "requester": "ana"}, JSON, 400, "task_id"),
    ("task_id null", "POST", "/requests", {"task_id": None, "requester": "ana"}, JSON, 400, "task_id"),
    ("task_id too short", "POST", "/requests", {"task_id": "abc123", "requester": "ana"}, JSON, 400, "task_id"),
    ("task_id too long", "POST", "/requests", {"task_id": TASK + "c", "requester": "ana"}, JSON, 400, "task_id"),
    ("task_id upper case", "POST", "/requests", {"task_id": "C" * 24, "requester": "ana"}, JSON, 400, "task_id"),
    ("task_id not hex", "POST", "/requests", {"task_id": "g" * 24, "requester": "ana"}, JSON, 400, "task_id"),
    ("task_id path trick", "POST", "/requests", {"task_id": "../" + "c" * 21, "requester": "a"}, JSON, 400, "task_id"),
    ("requester a number", "POST", "/requests", {"task_id": TASK, "requester": 7}, JSON, 400, "requester"),
    ("requester a boolean", "POST", "/requests", {"task_id": TASK, "requester": True}, JSON, 400, "requester"),
    ("requester an object", "POST", "/requests", {"task_id": TASK, "requester": {"n": 1}}, JSON, 400, "requester"),
    ("requester empty", "POST", "/requests", {"task_id": TASK, "requester": ""}, JSON, 400, "requester"),
    ("requester blank", "POST", "/requests", {"task_id": TASK, "requester": "   "}, JSON, 400, "requester"),
    ("requester too long", "POST", "/requests", {"task_id": TASK, "requester": "r" * 101}, JSON, 400, "requester"),
    ("requester with NUL", "POST", "/requests", {"task_id": TASK, "requester": "a\x00b"}, JSON, 400, "requester"),
    (
        "requester lone surrogate",
        "POST",
        "/requests",
        b'{"task_id": "' + TASK.encode() + b'", "requester": "\\ud800"}',
        JSON,
        400,
        "requester",
    ),
    ("note a number", "POST", "/requests", {"task_id": TASK, "requester": "a", "note": 1}, JSON, 400, "note"),
    ("note an array", "POST", "/requests", {"task_id": TASK, "requester": "a", "note": ["x"]}, JSON, 400, "note"),
    ("note too long", "POST", "/requests", {"task_id": TASK, "requester": "a", "note": "é" * 1001}, JSON, 400, "note"),
    ("unknown field", "POST", "/requests", {"task_id": TASK, "requester": "a", "priority": 1}, JSON, 400, "priority"),
    (
        "status on create",
        "POST",
        "/requests",
        {"task_id": TASK, "requester": "a", "status": "approved"},
        JSON,
        400,
        "status",
    ),
    ("id on create", "POST", "/requests", {"id": 5, "task_id": TASK, "requester": "a"}, JSON, 400, "id"),
    ("repeated key", "POST", "/requests", b'{"task_id": "x", "requester": "a", "requester": "b"}', JSON, 400, None),
    ("UTF-16 body", "POST", "/requests", '{"requester": "a"}'.encode("utf-16"), JSON, 400, None),
    ("UTF-8 BOM", "POST", "/requests", b'\xef\xbb\xbf{"requester": "a"}', JSON, 400, None),
    ("number past 4300 digits", "POST", "/requests", b'{"task_id": ' + b"9" * 5000 + b"}", JSON, 400, None),
    ("infinity", "POST", "/requests", b'{"task_id": 1e999, "requester": "a"}', JSON, 400, "task_id"),
    ("task_id lone surrogate", "POST", "/requests", b'{"task_id": "\\udfff", "requester": "a"}', JSON, 400, "task_id"),
    ("field name lone surrogate", "POST", "/requests", b'{"\\ud800": 1}', JSON, 400, "task_id"),
    ("text/plain body", "POST", "/requests", b'{"task_id": "x"}', "text/plain", 415, None),
    ("latin-1 charset", "POST", "/requests", b'{"task_id": "x"}', "application/json; charset=latin-1", 415, None),
    ("JSON suffix type", "POST", "/requests", b'{"task_id": "x"}', "application/merge-patch+json", 415, None),
    ("form body", "POST", "/requests", b"task_id=x", "application/x-www-form-urlencoded", 415, None),
    ("no content type", "POST", "/requests", b'{"task_id": "x"}', None, 415, None),
    ("body too large", "POST", "/requests", {"task_id": TASK, "requester": "a", "note": "n" * 70_000}, JSON, 413, None),
    # bodies of PATCH /requests/<id>
    ("patch empty object", "PATCH", "/requests/1", {}, JSON, 400, "status"),
    ("patch unknown status", "PATCH", "/requests/1", {"status": "done"}, JSON, 400, "status"),
    ("patch status upper case", "PATCH", "/requests/1", {"status": "APPROVED"}, JSON, 400, "status"),
    ("patch status a number", "PATCH", "/requests/1", {"status": 1}, JSON, 400, "status"),
    ("patch status null", "PATCH", "/requests/1", {"status": None}, JSON, 400, "status"),
    ("patch extra field", "PATCH", "/requests/1", {"status": "approved", "note": "x"}, JSON, 400, "note"),
    ("patch requester", "PATCH", "/requests/1", {"requester": "eve"}, JSON, 400, "requester"),
    ("patch malformed JSON", "PATCH", "/requests/1", b'{"status": approved}', JSON, 400, None),
    ("patch array body", "PATCH", "/requests/1", ["approved"], JSON, 400, None),
    ("patch text/plain", "PATCH", "/requests/1", b'{"status": "approved"}', "text/plain", 415, None),
    # ids in the path
    ("id not a number", "GET", "/requests/abc", None, None, 400, "id"),
    ("id zero", "GET", "/requests/0", None, None, 400, "id"),
    ("id negative", "GET", "/requests/-1", None, None, 400, "id"),
    ("id decimal", "GET", "/requests/1.5", None, None, 400, "id"),
    ("id with plus sign", "GET", "/requests/+1", None, None, 400, "id"),
    ("id with underscore", "GET", "/requests/1_0", None, None, 400, "id"),
    ("id in Arabic digits", "GET", "/requests/%D9%A1", None, None, 400, "id"),
    ("id past bigint", "GET", "/requests/9223372036854775808", None, None, 400, "id"),
    ("id huge", "GET", "/requests/" + "9" * 40, None, None, 400, "id"),
    ("patch bad id", "PATCH", "/requests/x", {"status": "approved"}, JSON, 400, "id"),
    ("delete bad id", "DELETE", "/requests/-5", None, None, 400, "id"),
    # query parameters of GET /requests
    ("limit not a number", "GET", "/requests?limit=abc", None, None, 400, "limit"),
    ("limit empty", "GET", "/requests?limit=", None, None, 400, "limit"),
    ("limit zero", "GET", "/requests?limit=0", None, None, 400, "limit"),
    ("limit over the bound", "GET", "/requests?limit=101", None, None, 400, "limit"),
    ("limit negative", "GET", "/requests?limit=-1", None, None, 400, "limit"),
    ("limit decimal", "GET", "/requests?limit=2.5", None, None, 400, "limit"),
    ("limit given twice", "GET", "/requests?limit=1&limit=2", None, None, 400, "limit"),
    ("offset negative", "GET", "/requests?offset=-1", None, None, 400, "offset"),
    ("offset not a number", "GET", "/requests?offset=ten", None, None, 400, "offset"),
    ("offset over the bound", "GET", "/requests?offset=100001", None, None, 400, "offset"),
    ("status unknown", "GET", "/requests?status=done", None, None, 400, "status"),
    ("task_id malformed", "GET", "/requests?task_id=xyz", None, None, 400, "task_id"),
    ("task_id bad percent bytes", "GET", "/requests?task_id=%FF%FE", None, None, 400, None),
    ("requester bad percent bytes", "GET", "/requests?requester=%C3", None, None, 400, None),
    ("requester lone surrogate", "GET", "/requests?requester=%ED%A0%80", None, None, 400, None),
    ("requester empty", "GET", "/requests?requester=", None, None, 400, "requester"),
    ("requester blank", "GET", "/requests?requester=%20%E3%80%80", None, None, 400, "requester"),
    ("requester with NUL", "GET", "/requests?requester=a%00b", None, None, 400, "requester"),
    ("sort unknown", "GET", "/requests?sort=id", None, None, 400, "sort"),
    ("sort by title", "GET", "/requests?sort=-title", None, None, 400, "sort"),
    ("sort given twice", "GET", "/requests?sort=created_at&sort=updated_at", None, None, 400, "sort"),
    ("unknown parameter", "GET", "/requests?page=2", None, None, 400, "page"),
    ("camelCase parameter", "GET", "/requests?taskId=" + TASK, None, None, 400, "taskId"),
    ("parameter on an item", "GET", "/requests/1?fields=id", None, None, 400, "fields"),
    ("parameter on a patch", "PATCH", "/requests/1?force=1", {"status": "approved"}, JSON, 400, "force"),
    ("parameter on a delete", "DELETE", "/requests/1?force=1", None, None, 400, "force"),
    ("parameter on health", "GET", "/health?verbose=1", None, None, 400, "verbose"),
    ("parameter on the document", "GET", "/openapi.json?format=yaml", None, None, 400, "format"),
    # routes and methods
    ("unknown route", "GET", "/nothing-here", None, None, 404, None),
    ("unknown nested route", "GET", "/requests/1/comments", None, None, 404, None),
    ("PUT on the collection", "PUT", "/requests", {"status": "approved"}, JSON, 405, None),
    ("DELETE on the collection", "DELETE", "/requests", None, None, 405, None),
    ("POST on an item", "POST", "/requests/1", {"status": "approved"}, JSON, 405, None),
    ("POST on health", "POST", "/health", {}, JSON, 405, None),
    ("PUT on health", "PUT", "/health", {}, JSON, 405, None),
    ("DELETE on health", "DELETE", "/health", None, None, 405, None),
    ("PUT on an item", "PUT", "/requests/1", {"status": "approved"}, JSON, 405, None),
    ("trailing slash", "GET", "/requests/", None, None, 404, None),
    ("percent garbage in the path", "GET", "/requests/%ZZ", None, None, 400, "id"),
]


@pytest.fixture
def seeded(client, tasks, database_url):
    """One pending request with id 1, so PATCH and DELETE cases have a target that must stay untouched."""
    tasks.known.add(TASK)
    response = client.post("/requests", json={"task_id": TASK, "requester": "ana"})
    assert response.status_code == 201
    assert response.get_json()["id"] == 1
    return response.get_json()


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_request(client, seeded, database_url, method, path, body, content_type, status, field):
    if isinstance(body, bytes):
        data = body
    elif body is None and method in ("GET", "DELETE"):
        data = None
    else:
        data = json.dumps(body)  # the "null body" case sends the JSON null
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.open(path, method=method, data=data, headers=headers)

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    payload = response.get_json()
    assert isinstance(payload["error"], str)
    assert payload["error"]
    assert isinstance(payload["details"], list)
    assert payload["details"]
    if field:
        assert field in [d.get("field") for d in payload["details"]], payload
    # Nothing written, nothing changed.
    assert row_count(database_url) == 1
    assert client.get("/requests/1").get_json() == seeded


def test_every_problem_is_reported_at_once(client):
    response = client.post("/requests", json={"task_id": 1, "requester": "", "note": 5, "extra": True})
    assert response.status_code == 400
    fields = sorted(d["field"] for d in response.get_json()["details"])
    assert fields == ["extra", "note", "requester", "task_id"]


def test_an_error_lists_at_most_20_problems_and_counts_the_rest(client):
    # 6000 unknown fields in a body under the 64 KiB limit: the answer is a small fraction of the request.
    body = json.dumps({f"k{i}": 0 for i in range(6000)}, separators=(",", ":")).encode()
    assert len(body) <= 65536
    response = client.post("/requests", data=body, content_type="application/json")
    assert response.status_code == 400
    answer = response.get_json()
    assert len(answer["details"]) == 20
    assert answer["details_omitted"] == 6002 - 20  # the 6000 unknown fields, task_id and requester missing
    assert len(response.get_data()) < len(body) // 10


def test_a_long_input_quoted_in_a_detail_is_shortened(client):
    name = "x" * 60_000
    response = client.post("/requests", data=json.dumps({name: 1}), content_type="application/json")
    assert response.status_code == 400
    fields = [d.get("field") for d in response.get_json()["details"]]
    assert "x" * 97 + "..." in fields
    assert len(response.get_data()) < 2000


def test_every_listed_problem_is_complete_when_there_are_at_most_20(client):
    response = client.get("/requests?" + "&".join(f"p{i}=1" for i in range(20)))
    assert len(response.get_json()["details"]) == 20
    assert "details_omitted" not in response.get_json()
    response = client.get("/requests?" + "&".join(f"p{i}=1" for i in range(21)))
    assert response.get_json()["details_omitted"] == 1


def test_405_keeps_the_allow_header(client):
    response = client.put("/requests")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
