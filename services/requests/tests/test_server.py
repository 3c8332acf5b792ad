"""What only a real gunicorn shows: bodies sent chunked, and requests gunicorn's parser refuses itself (bytes that are
no HTTP request). Every answer is checked against openapi.json, as in every test. The limits of the head are in
test_limits.py, the HTTP rules in test_http_semantics.py."""

import pytest
from support import padded_body, row_count, send, send_raw

TASK = "9" * 24
JSON = {"Content-Type": "application/json"}
BODY_MAX = 65536  # docs/api.md


@pytest.fixture
def known_task(tasks):
    tasks.known.add(TASK)


def chunks(data: bytes, size: int = 16 * 1024):
    return (data[i : i + size] for i in range(0, len(data), size))


def test_a_chunked_body_over_the_limit_is_refused_not_cut(server, known_task, database_url):
    before = row_count(database_url)
    response = send(server, "POST", "/requests", chunks(padded_body(TASK, 200 * 1024)), JSON)
    assert response.status_code == 413, response.get_data()
    assert response.get_json()["error"] == "body too large"
    assert row_count(database_url) == before


@pytest.mark.parametrize("size", [1 << 20, 10 << 20], ids=["1 MB", "10 MB"])
def test_large_chunked_bodies_get_413_and_the_server_goes_on(server, known_task, size):
    assert send(server, "POST", "/requests", chunks(b"x" * size, 256 * 1024), JSON).status_code == 413
    assert send(server, "GET", "/health").status_code == 200


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "Content-Length"])
def test_body_size_through_the_server(server, known_task, chunked):
    def body(size):
        data = padded_body(TASK, size)
        return chunks(data) if chunked else data

    assert send(server, "POST", "/requests", body(BODY_MAX), JSON).status_code == 201
    assert send(server, "POST", "/requests", body(BODY_MAX + 1), JSON).status_code == 413


def test_a_broken_chunked_framing_is_a_json_400(server):
    head = b"POST /requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    response = send_raw(server, head + b"zz\r\n{}\r\n0\r\n\r\n", "POST", "/requests")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"G@T /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Control: a\x01b\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    ],
    ids=["no request line", "header without colon", "method not a token", "control in a value", "folded header"],
)
def test_what_gunicorn_cannot_parse_gets_json(server, data):
    response = send_raw(server, data, "GET", "/health")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.get_json()["error"] == "bad request"


def test_options_through_the_server(server):
    response = send(server, "OPTIONS", "/requests/1")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
