"""The HTTP rules of docs/api.md (§HTTP semantics), each on a raw socket to a real gunicorn: the request line's
version, Host, framing (Transfer-Encoding, Content-Length, Connection: close), case-sensitive routes, CONNECT,
Content-Type's parameters, and `X-Content-Type-Options: nosniff` on every answer, the server's own included (every
answer passes through contract.check_response, which requires it). Each refusal is a JSON error, never a silent
close."""

import socket

import pytest
from support import exchange, row_count

TASK = "7" * 24
BODY = b'{"task_id": "' + TASK.encode() + b'", "requester": "ana"}'


@pytest.fixture
def known_task(tasks):
    tasks.known.add(TASK)


def request(
    method: str = "GET",
    target: str = "/health",
    version: str = "HTTP/1.1",
    headers: tuple = ("Host: x",),
    body: bytes = b"",
) -> bytes:
    lines = "".join(f"{line}\r\n" for line in headers)
    return f"{method} {target} {version}\r\n{lines}\r\n".encode("latin-1") + body


def only_answer(port: int, data: bytes, method: str = "GET", target: str = "/health"):
    """The one answer to `data`, after which the server must have closed the connection."""
    result = exchange(port, data, [(method, target), ("GET", "/health")])
    assert result.closed, "the server kept the connection open"
    [answer] = result.answers
    return answer


def refusal(
    port: int, data: bytes, status: int, field: str | None = None, method: str = "GET", target: str = "/health"
):
    answer = only_answer(port, data, method, target)
    assert answer.status_code == status, answer.get_data(as_text=True)
    if field is not None:
        assert [d.get("field") for d in answer.get_json()["details"]] == [field]
    return answer


# Host (RFC 9112 §3.2)


def test_http_1_1_without_host_is_400(server):
    refusal(server, request(headers=()), 400, "Host")


def test_two_host_lines_are_400(server):
    refusal(server, request(headers=("Host: a", "Host: a")), 400, "Host")


@pytest.mark.parametrize(
    "value", ["a b", "a/b@c", "a:b:c", "[::1", "a@b", "[fe80::1%eth0]", "[not-ip]", "x:80x", "h\xe9"]
)
def test_an_invalid_host_is_400(server, value):
    refusal(server, request(headers=(f"Host: {value}",)), 400, "Host")


@pytest.mark.parametrize("value", ["example.com", "example.com:8000", "127.0.0.1", "[::1]", "[::1]:8000", "[v1.x]", ""])
def test_a_valid_host_is_served(server, value):
    [answer] = exchange(server, request(headers=(f"Host: {value}", "Connection: close"))).answers
    assert answer.status_code == 200


def test_http_1_0_without_host_is_served_and_closed(server):
    answer = only_answer(server, request(version="HTTP/1.0", headers=()))
    assert answer.status_code == 200


# The request line's version (RFC 9110 §6.2, RFC 9112 §2.3)


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/1.9"])
def test_a_higher_minor_version_is_served_as_http_1_1(server, version):
    result = exchange(server, request(version=version, headers=("Host: x", "Connection: close")))
    assert result.raw.startswith(b"HTTP/1.1 200 ")
    assert [answer.status_code for answer in result.answers] == [200]


def test_a_higher_minor_version_keeps_the_connection_alive(server):
    # Served as HTTP/1.1: persistent by default, so a second request on the same connection gets its answer too.
    twice = request(version="HTTP/1.2") + request(version="HTTP/1.2", headers=("Host: x", "Connection: close"))
    result = exchange(server, twice, [("GET", "/health"), ("GET", "/health")])
    assert [answer.status_code for answer in result.answers] == [200, 200]
    assert result.raw.count(b"HTTP/1.1 200 ") == 2


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"])
def test_another_major_version_is_505(server, version):
    answer = refusal(server, request(version=version), 505)
    assert answer.get_json()["error"] == "HTTP version not supported"


@pytest.mark.parametrize(
    "line",
    ["GET /health", "GET /health HTTP/1", "GET /health HTTP/1.10", "GET /health http/1.1", "GET /health HTTP/1.1 x"],
    ids=["no version", "no minor", "two digits", "lower case", "trailing word"],
)
def test_a_missing_or_malformed_version_is_400(server, line):
    refusal(server, f"{line}\r\nHost: x\r\n\r\n".encode(), 400)


# Routes and methods


@pytest.mark.parametrize("target", ["/REQUESTS", "/Requests", "/HEALTH", "/Health", "/OpenAPI.json", "/requests/1/"])
def test_paths_are_case_sensitive(server, target):
    [answer] = exchange(
        server, request(target=target, headers=("Host: x", "Connection: close")), [("GET", target)]
    ).answers
    assert answer.status_code == 404


def test_connect_on_a_route_is_405_with_its_allow(server):
    answer = refusal(server, request("CONNECT", "/requests"), 405, method="CONNECT", target="/requests")
    assert {"GET", "POST"} <= set(answer.headers["Allow"].replace(" ", "").split(","))


@pytest.mark.parametrize("target", ["example.com:443", "127.0.0.1:5432"])
def test_connect_to_an_authority_is_400(server, target):
    refusal(server, request("CONNECT", target, headers=(f"Host: {target}",)), 400, method="CONNECT", target="/")


# Framing (RFC 9112 §6)


@pytest.mark.parametrize(
    ("headers", "status", "field"),
    [
        (("Transfer-Encoding: xchunked", "Content-Length: 2"), 400, "Transfer-Encoding"),
        (("Transfer-Encoding: xchunked",), 400, "Transfer-Encoding"),
        (("Transfer-Encoding: chunked, gzip",), 400, "Transfer-Encoding"),
        (("Transfer-Encoding: identity",), 400, "Transfer-Encoding"),
        (("Transfer-Encoding: chunked, chunked",), 400, "Transfer-Encoding"),
        (("Transfer-Encoding: chunked", "Content-Length: 2"), 400, "Content-Length"),
        (("Transfer-Encoding: gzip, chunked",), 501, "Transfer-Encoding"),
        (("Transfer-Encoding: xchunked, chunked",), 501, "Transfer-Encoding"),
        (("Transfer-Encoding: gzip", "Transfer-Encoding: chunked"), 501, "Transfer-Encoding"),
        (("Content-Length: 2", "Content-Length: 2"), 400, "Content-Length"),
        (("Content-Length: 2, 2",), 400, "Content-Length"),
        (("Content-Length: +2",), 400, "Content-Length"),
        (("Content-Length: 0x2",), 400, "Content-Length"),
        (("Content-Length: two",), 400, "Content-Length"),
    ],
)
def test_framing_that_cannot_be_trusted_is_refused_and_closed(server, known_task, database_url, headers, status, field):
    before = row_count(database_url)
    data = request(
        "POST",
        "/requests",
        headers=("Host: x", "Content-Type: application/json", *headers),
        body=b"2\r\n{}\r\n0\r\n\r\n",
    )
    refusal(server, data, status, field, method="POST", target="/requests")
    assert row_count(database_url) == before


def test_chunked_in_http_1_0_is_400(server):
    data = request("POST", "/requests", "HTTP/1.0", ("Content-Type: application/json", "Transfer-Encoding: chunked"))
    refusal(server, data + b"2\r\n{}\r\n0\r\n\r\n", 400, "Transfer-Encoding", method="POST", target="/requests")


def test_a_declared_body_over_the_limit_is_413_at_once_then_closed(server):
    # Nothing of the body follows the head: the answer must come without waiting for it.
    data = request(
        "POST", "/requests", headers=("Host: x", "Content-Type: application/json", "Content-Length: 99999999999")
    )
    result = exchange(server, data, [("POST", "/requests")], timeout=3)
    assert result.closed
    assert [answer.status_code for answer in result.answers] == [413]


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_bytes_after_a_closing_request_are_never_read(server, known_task, database_url, version):
    # The first request ends the connection (Connection: close, or HTTP/1.0): what follows in the same write is
    # discarded, and neither answers nor changes anything.
    closing = ("Host: x", "Connection: close") if version == "HTTP/1.1" else ()
    first = request(
        "POST", "/requests", version, (*closing, "Content-Type: application/json", f"Content-Length: {len(BODY)}"), BODY
    )
    second = request(
        "POST",
        "/requests",
        headers=("Host: x", "Content-Type: application/json", f"Content-Length: {len(BODY)}"),
        body=BODY,
    )
    before = row_count(database_url)
    result = exchange(server, first + second + b"garbage", [("POST", "/requests"), ("POST", "/requests")])
    assert result.closed
    assert [answer.status_code for answer in result.answers] == [201]
    assert row_count(database_url) == before + 1


def test_bytes_after_a_closing_get_are_never_read(server):
    result = exchange(server, request(headers=("Host: x", "Connection: close")) + b"GET /nothing HTTP/1.1\r\n\r\n")
    assert result.closed
    assert [answer.status_code for answer in result.answers] == [200]


# Content-Type (RFC 9110 §8.3)


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 201),
        ("Application/JSON; Charset=UTF-8", 201),
        ('application/json;charset="utf-8"', 201),
        ("application/json; charset=utf-8; charset=latin1", 415),
        ("application/json; charset=utf-8; charset=utf-8", 415),
        ("application/json; charset=latin1", 415),
        ("application/json; version=2", 415),
        ("application/json; charset=utf-8; version=2", 415),
        ("application/json; charset", 415),
        ("text/json", 415),
    ],
)
def test_content_type_parameters(server, known_task, content_type, status):
    headers = ("Host: x", "Connection: close", f"Content-Type: {content_type}", f"Content-Length: {len(BODY)}")
    [answer] = exchange(
        server, request("POST", "/requests", headers=headers, body=BODY), [("POST", "/requests")]
    ).answers
    assert answer.status_code == status, answer.get_data(as_text=True)
    if status == 415:
        assert [d["field"] for d in answer.get_json()["details"]] == ["Content-Type"]


def test_two_content_type_lines_are_400(server, known_task):
    headers = (
        "Host: x",
        "Content-Type: application/json",
        "Content-Type: application/json",
        f"Content-Length: {len(BODY)}",
    )
    refusal(
        server,
        request("POST", "/requests", headers=headers, body=BODY),
        400,
        "Content-Type",
        method="POST",
        target="/requests",
    )


# Persistent connections and Expect: 100-continue (RFC 9112 §9.3, RFC 9110 §10.1.1)


def test_pipelined_requests_are_answered_in_order(server):
    data = request(target="/health") + request(target="/nothing") + request(headers=("Host: x", "Connection: close"))
    result = exchange(server, data, [("GET", "/health"), ("GET", "/nothing"), ("GET", "/health")])
    assert [answer.status_code for answer in result.answers] == [200, 404, 200]
    assert result.closed


def test_100_continue_comes_before_the_body_is_sent_and_once(server, known_task):
    headers = ("Host: x", "Connection: close", "Content-Type: application/json", "Expect: 100-continue")
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(request("POST", "/requests", headers=(*headers, f"Content-Length: {len(BODY)}")))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(BODY)
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    assert rest.startswith(b"HTTP/1.1 201 ")


def test_a_body_over_the_limit_gets_its_413_instead_of_100_continue(server):
    headers = ("Host: x", "Content-Type: application/json", "Expect: 100-continue", "Content-Length: 70000")
    result = exchange(server, request("POST", "/requests", headers=headers), [("POST", "/requests")], timeout=3)
    assert result.raw.startswith(b"HTTP/1.1 413 ")
    assert result.closed
