"""Every documented limit, from both sides: a value exactly at the limit is accepted, one more is refused. Text limits
count characters (code points), so they are tried with characters outside the Basic Multilingual Plane too."""

import pytest
from support import padded_body

from requests_service import limits, validation

TASK = "b" * 24
ASTRAL = "\U0001f600"  # one character, two UTF-16 units, four UTF-8 bytes


@pytest.fixture
def known_task(tasks):
    tasks.known.add(TASK)


def post(client, **fields):
    return client.post("/requests", json={"task_id": TASK, "requester": "ana", **fields})


def refused_field(response) -> list[str]:
    assert response.status_code == 400, response.get_json()
    return [d.get("field") for d in response.get_json()["details"]]


@pytest.mark.parametrize("char", ["x", "é", ASTRAL])
@pytest.mark.parametrize(("field", "limit"), [("requester", validation.REQUESTER_MAX), ("note", validation.NOTE_MAX)])
def test_text_length(client, known_task, field, limit, char):
    at_limit = char * limit
    created = post(client, **{field: at_limit})
    assert created.status_code == 201
    assert created.get_json()[field] == at_limit
    assert refused_field(post(client, **{field: at_limit + char})) == [field]


def test_requester_length_counts_after_trimming(client, known_task):
    at_limit = "r" * validation.REQUESTER_MAX
    created = post(client, requester=f" \t\u3000{at_limit}\n\u2003")
    assert created.status_code == 201
    assert created.get_json()["requester"] == at_limit
    assert refused_field(post(client, requester=f"  {at_limit}r  ")) == ["requester"]
    assert refused_field(post(client, requester=" \u00a0\u2028 ")) == ["requester"]  # nothing left: empty
    # U+001C is not whitespace to the service (nor to JSON Schema): it stays, and counts.
    assert post(client, requester="\x1c").get_json()["requester"] == "\x1c"


def test_a_note_is_kept_as_sent(client, known_task):
    assert post(client, note=" " * validation.NOTE_MAX).get_json()["note"] == " " * validation.NOTE_MAX


def test_requester_filter_length(client):
    at_limit = ASTRAL * validation.REQUESTER_MAX
    assert client.get("/requests", query_string={"requester": f"  {at_limit} "}).status_code == 200
    response = client.get("/requests", query_string={"requester": at_limit + ASTRAL})
    assert refused_field(response) == ["requester"]


@pytest.mark.parametrize(
    ("name", "accepted", "refused"),
    [
        ("limit", (1, validation.LIMIT_MAX), (0, validation.LIMIT_MAX + 1)),
        ("offset", (0, validation.OFFSET_MAX), (-1, validation.OFFSET_MAX + 1)),
    ],
)
def test_paging_bounds(client, name, accepted, refused):
    for value in accepted:
        page = client.get(f"/requests?{name}={value}")
        assert page.status_code == 200, value
        assert page.get_json()[name] == value
    for value in refused:
        assert refused_field(client.get(f"/requests?{name}={value}")) == [name]


def test_id_bounds(client):
    assert client.get("/requests/1").status_code == 404
    assert client.get(f"/requests/{validation.MAX_ID}").status_code == 404  # well formed: no such request
    assert refused_field(client.get("/requests/0")) == ["id"]
    assert refused_field(client.get(f"/requests/{validation.MAX_ID + 1}")) == ["id"]


def test_body_size(client, known_task):
    at_limit = client.post("/requests", data=padded_body(TASK, limits.BODY_MAX), content_type="application/json")
    assert at_limit.status_code == 201
    over = client.post("/requests", data=padded_body(TASK, limits.BODY_MAX + 1), content_type="application/json")
    assert over.status_code == 413
    assert over.get_json()["error"] == "body too large"


def test_request_target_length(client):
    # The path and query as sent: a requester filter padded with "+" (a space, trimmed away) up to the limit.
    prefix = "/requests?requester="
    at_limit = prefix + "+" * (limits.TARGET_MAX - len(prefix) - 1) + "a"
    assert len(at_limit) == limits.TARGET_MAX
    assert client.get(at_limit).status_code == 200
    over = client.get(at_limit + "b")
    assert over.status_code == 414
    assert over.get_json()["error"] == "request target too long"
    assert client.get("/nothing/" + "x" * limits.TARGET_MAX).status_code == 414  # before routing, any path


def test_one_header_size(client):
    name = "X-Note"
    at_limit = {name: "v" * (limits.HEADER_MAX - len(name))}
    assert client.get("/health", headers=at_limit).status_code == 200
    over = client.get("/health", headers={name: "v" * (limits.HEADER_MAX - len(name) + 1)})
    assert over.status_code == 431
    assert over.get_json()["error"] == "request headers too large"


def test_all_headers_size(client):
    # The test client sends Host: localhost too; four headers of about 4 KiB fill the rest exactly.
    base = len("Host") + len("localhost")
    names = ["User-Agent", "X-A2", "X-A3", "X-A4"]
    each = (limits.HEADERS_MAX - base) // 4 - 10
    headers = dict.fromkeys(names, "v" * each)
    headers["X-A4"] += "v" * (limits.HEADERS_MAX - base - sum(len(k) + len(v) for k, v in headers.items()))
    assert sum(len(k) + len(v) for k, v in headers.items()) + base == limits.HEADERS_MAX
    assert client.get("/health", headers=headers).status_code == 200
    headers["X-A4"] += "v"
    assert client.get("/health", headers=headers).status_code == 431
