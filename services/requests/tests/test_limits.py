"""Every documented limit, from both sides: a value exactly at the limit is accepted, one more is refused. The limits
are the numbers docs/api.md gives, written here as numbers, never read from the service's code: changing a constant
of the service fails these tests. Text limits count characters (code points), so they are tried with characters
outside the Basic Multilingual Plane too. The limits of a request's head (target, headers) hold on the wire, so they
are tried on a real gunicorn with raw bytes."""

import pytest
from support import exchange, padded_body

TASK = "b" * 24
ASTRAL = "\U0001f600"  # one character, two UTF-16 units, four UTF-8 bytes

# docs/api.md: §requests' field table and §Conventions' limits, §Lists, §Errors (413, 414, 431).
REQUESTER_MAX = 100  # characters, after trimming
NOTE_MAX = 1000  # characters
LIMIT_MAX = 100
OFFSET_MAX = 100_000
ID_MAX = 2**63 - 1
BODY_MAX = 65536  # bytes
TARGET_MAX = 4096  # bytes of path and query
HEADER_MAX = 8192  # bytes of one header, counted as `name: value` and its CRLF
HEADERS_MAX = 16384  # bytes of all headers, counted the same way
HEADER_COUNT_MAX = 100  # header fields


@pytest.fixture
def known_task(tasks):
    tasks.known.add(TASK)


def post(client, **fields):
    return client.post("/requests", json={"task_id": TASK, "requester": "ana", **fields})


def refused_field(response) -> list[str]:
    assert response.status_code == 400, response.get_json()
    return [d.get("field") for d in response.get_json()["details"]]


@pytest.mark.parametrize("char", ["x", "é", ASTRAL])
@pytest.mark.parametrize(("field", "limit"), [("requester", REQUESTER_MAX), ("note", NOTE_MAX)])
def test_text_length(client, known_task, field, limit, char):
    at_limit = char * limit
    created = post(client, **{field: at_limit})
    assert created.status_code == 201
    assert created.get_json()[field] == at_limit
    assert refused_field(post(client, **{field: at_limit + char})) == [field]


def test_requester_length_counts_after_trimming(client, known_task):
    at_limit = "r" * REQUESTER_MAX
    created = post(client, requester=f" \t\u3000{at_limit}\n\u2003")
    assert created.status_code == 201
    assert created.get_json()["requester"] == at_limit
    assert refused_field(post(client, requester=f"  {at_limit}r  ")) == ["requester"]
    assert refused_field(post(client, requester=" \u00a0\u2028 ")) == ["requester"]  # nothing left: empty
    # U+001C is not whitespace to the service (nor to JSON Schema): it stays, and counts.
    assert post(client, requester="\x1c").get_json()["requester"] == "\x1c"


def test_a_note_is_kept_as_sent(client, known_task):
    assert post(client, note=" " * NOTE_MAX).get_json()["note"] == " " * NOTE_MAX


def test_requester_filter_length(client):
    at_limit = ASTRAL * REQUESTER_MAX
    assert client.get("/requests", query_string={"requester": f"  {at_limit} "}).status_code == 200
    response = client.get("/requests", query_string={"requester": at_limit + ASTRAL})
    assert refused_field(response) == ["requester"]


@pytest.mark.parametrize(
    ("name", "accepted", "refused"),
    [("limit", (1, LIMIT_MAX), (0, LIMIT_MAX + 1)), ("offset", (0, OFFSET_MAX), (-1, OFFSET_MAX + 1))],
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
    assert client.get(f"/requests/{ID_MAX}").status_code == 404  # well formed: no such request
    assert refused_field(client.get("/requests/0")) == ["id"]
    assert refused_field(client.get(f"/requests/{ID_MAX + 1}")) == ["id"]


def test_body_size(client, known_task):
    at_limit = client.post("/requests", data=padded_body(TASK, BODY_MAX), content_type="application/json")
    assert at_limit.status_code == 201
    over = client.post("/requests", data=padded_body(TASK, BODY_MAX + 1), content_type="application/json")
    assert over.status_code == 413
    assert over.get_json()["error"] == "body too large"


def head(target: str = "/health", headers: list[tuple[str, str]] | None = None) -> bytes:
    """A GET's head with exactly these headers (Host and Connection: close by default)."""
    headers = [("Host", "x"), ("Connection", "close")] if headers is None else headers
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"GET {target} HTTP/1.1\r\n{lines}\r\n".encode()


def counted(headers: list[tuple[str, str]]) -> int:
    return sum(len(f"{name}: {value}\r\n") for name, value in headers)


def status(port: int, data: bytes, target: str = "/health") -> int:
    [answer] = exchange(port, data, [("GET", target)]).answers
    return answer.status_code


def test_request_target_length(server):
    # The path and query as sent: a requester filter padded with "+" (a space, trimmed away) up to the limit.
    prefix = "/requests?requester="
    at_limit = prefix + "+" * (TARGET_MAX - len(prefix) - 1) + "a"
    assert len(at_limit) == TARGET_MAX
    assert status(server, head(at_limit), at_limit) == 200
    [over] = exchange(server, head(at_limit + "b"), [("GET", at_limit + "b")]).answers
    assert over.status_code == 414
    assert over.get_json()["error"] == "request target too long"
    # Before routing, on any path, and far past it (past gunicorn's own request line limit, 8190 bytes).
    assert status(server, head("/nothing/" + "x" * TARGET_MAX), "/nothing") == 414
    assert status(server, head("/health?" + "x" * 10_000), "/health") == 414


def test_one_header_size(server):
    base = [("Host", "x"), ("Connection", "close")]
    at_limit = [*base, ("X-Note", "v" * (HEADER_MAX - len("X-Note: \r\n")))]
    assert counted(at_limit[-1:]) == HEADER_MAX
    assert status(server, head(headers=at_limit)) == 200
    over = [*base, ("X-Note", "v" * (HEADER_MAX - len("X-Note: \r\n") + 1))]
    [answer] = exchange(server, head(headers=over)).answers
    assert answer.status_code == 431
    assert answer.get_json()["error"] == "request headers too large"
    # Far past it, past gunicorn's own limit on a header line (16 KiB here).
    assert status(server, head(headers=[*base, ("X-Big", "v" * 20_000)])) == 431


def test_all_headers_size(server):
    # Host and Connection, then headers of 4000 bytes each, the last one filling up to the limit exactly.
    headers = [("Host", "x"), ("Connection", "close")] + [
        (f"X-A{i}", "v" * (4000 - len(f"X-A{i}: \r\n"))) for i in range(3)
    ]
    headers.append(("X-Last", "v" * (HEADERS_MAX - counted(headers) - len("X-Last: \r\n"))))
    assert counted(headers) == HEADERS_MAX
    assert status(server, head(headers=headers)) == 200
    headers[-1] = ("X-Last", headers[-1][1] + "v")
    assert status(server, head(headers=headers)) == 431


def test_blanks_around_a_value_are_not_counted(server):
    # A header counts as `name: value` and its CRLF however it was sent: `name:value` and `name:   value  ` alike.
    base = [("Host", "x"), ("Connection", "close")]
    value = "v" * (HEADER_MAX - len("X-Note: \r\n"))
    data = head(headers=base).replace(b"\r\n\r\n", f"\r\nX-Note:   {value}  \r\n\r\n".encode())
    assert status(server, data) == 200


def test_header_count(server):
    at_limit = [("Host", "x"), ("Connection", "close")] + [(f"X-H{i}", "v") for i in range(HEADER_COUNT_MAX - 2)]
    assert len(at_limit) == HEADER_COUNT_MAX
    assert status(server, head(headers=at_limit)) == 200
    [answer] = exchange(server, head(headers=[*at_limit, ("X-One-More", "v")])).answers
    assert answer.status_code == 431
    assert answer.get_json()["error"] == "request headers too large"
