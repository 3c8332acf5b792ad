"""What only a real gunicorn shows: bodies sent chunked, and requests gunicorn answers itself (a request line or headers
past its limits, bytes that are no HTTP request). Every answer is checked against openapi.json, as in every test."""


import pytest
from support import free_port, padded_body, row_count, send, send_raw, service_env, start_gunicorn, wait_healthy

from requests_service import limits

TASK = "9" * 24
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(database_url, tasks_standin, tmp_path_factory):
    """One gunicorn for the module, as the image runs it; its port."""
    port = free_port()
    env = service_env(DATABASE_URL=database_url, TASKS_URL=tasks_standin.url, PORT=str(port))
    proc = start_gunicorn(env, tmp_path_factory.mktemp("server") / "gunicorn.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield port
    finally:
        proc.kill()
        proc.wait(10)


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

    assert send(server, "POST", "/requests", body(limits.BODY_MAX), JSON).status_code == 201
    assert send(server, "POST", "/requests", body(limits.BODY_MAX + 1), JSON).status_code == 413


def test_a_broken_chunked_framing_is_a_json_400(server):
    head = b"POST /requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    response = send_raw(server, head + b"zz\r\n{}\r\n0\r\n\r\n", "POST", "/requests")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "data",
    [b"GARBAGE\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n", b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n"],
    ids=["no request line", "unknown HTTP version", "header without colon"],
)
def test_what_gunicorn_cannot_parse_gets_json(server, data):
    response = send_raw(server, data, "GET", "/health")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.get_json()["error"] == "bad request"


@pytest.mark.parametrize("extra", [1, 5000], ids=["one byte over (the app)", "past gunicorn's request line"])
def test_an_over_long_request_target_is_a_json_414(server, extra):
    target = "/requests?requester=" + "+" * (limits.TARGET_MAX - len("/requests?requester=") - 1 + extra) + "a"
    response = send(server, "GET", target)
    assert response.status_code == 414
    assert response.get_json()["error"] == "request target too long"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "v" * limits.HEADER_MAX},
        {"X-Big": "v" * 20_000},
        {f"X-H{i}": "v" for i in range(limits.HEADER_COUNT_MAX + 1)},
    ],
    ids=["one header one byte over (the app)", "past gunicorn's header line", "too many headers (gunicorn)"],
)
def test_over_large_headers_are_a_json_431(server, headers):
    response = send(server, "GET", "/health", headers=headers)
    assert response.status_code == 431
    assert response.get_json()["error"] == "request headers too large"


def test_options_through_the_server(server):
    response = send(server, "OPTIONS", "/requests/1")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}


def test_a_body_declared_past_what_is_worth_reading_is_refused_at_once(server):
    # Nothing of the 100 MB follows the head: the answer must come without waiting for it (the socket's timeout).
    head = (
        b"POST /requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000\r\n\r\n"
    )
    response = send_raw(server, head, "POST", "/requests", timeout=5)
    assert response.status_code == 413
