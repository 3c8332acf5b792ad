"""Caller authentication against the real gunicorn, database and log shipping (docs/api.md § Authentication): a
missing, malformed, unknown or revoked key on every protected operation and on requests that reach none; a reader that
writes; the public routes; which answers come before the key is checked; and each request's caller on its log line,
on stdout and in what reached the syslog receiver, where no key material ever appears. Every answer passes through
contract.check_response, which refuses one that holds any of the tests' keys."""

import json
import re

import pytest
from contract import DOCUMENT
from keys import AUTHORIZATION, READER, UNKNOWN_KEY, WRITER, WRITER_KEY, callers_file, key_material_in
from support import UdpReceiver, exchange, free_port, row_count, send, service_env, start_gunicorn, wait_healthy

TASK = "5" * 24
CHALLENGE = 'Bearer realm="requests"'
MISSING = (CHALLENGE, "a key is required: Authorization: Bearer <key>")
MALFORMED = (f'{CHALLENGE}, error="invalid_request"', "must be Bearer <key>")
UNKNOWN = (f'{CHALLENGE}, error="invalid_token"', "is not a known key")
READING = ("GET", "HEAD", "OPTIONS")
BODIES = {"POST": {"task_id": TASK, "requester": "no valid key"}, "PATCH": {"status": "approved"}}


def protected_operations() -> list[tuple[str, str]]:
    """Every operation openapi.json protects (all but those with `security: []`), and HEAD with each GET."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and "security" not in operation:
                found += [(method.upper(), path)] + ([("HEAD", path)] if method == "get" else [])
    return found


PROTECTED = protected_operations()
# Requests that reach no operation: without a key they are refused as the operations are, revealing nothing.
NO_ROUTES = [
    ("GET", "/nope"),
    ("GET", "/requests/"),
    ("GET", "/REQUESTS"),
    ("GET", "/health/"),
    ("GET", "/requests/not-an-id"),
    ("PUT", "/requests"),
    ("POST", "/health"),
    ("DELETE", "/openapi.json"),
    ("TRACE", "/health"),
]
MALFORMED_VALUES = [
    ("another scheme", "Basic Y2k6c2VjcmV0"),
    ("the key alone", WRITER_KEY),
    ("the scheme alone", "Bearer"),
    ("an empty value", ""),
    ("two spaces", f"Bearer  {WRITER_KEY}"),
    ("a tab", f"Bearer\t{WRITER_KEY}"),
    ("a key one character short", f"Bearer {WRITER_KEY[:-1]}"),
    ("a key one character long", f"Bearer {WRITER_KEY}A"),
    ("a key with another prefix", f"Bearer MSK_{WRITER_KEY[4:]}"),
    ("a key in base64 rather than base64url", f"Bearer msk_+{WRITER_KEY[5:]}"),
    ("a padded key", f"Bearer {WRITER_KEY[:-1]}="),
    ("a quoted key", f'Bearer "{WRITER_KEY}"'),
]


@pytest.fixture(scope="module")
def syslog():
    receiver = UdpReceiver()
    yield receiver
    receiver.close()


def start_server(tmp_path_factory, database_url, tasks_url, name, **variables) -> tuple[int, object]:
    port = free_port()
    env = service_env(DATABASE_URL=database_url, TASKS_URL=tasks_url, PORT=str(port), **variables)
    log = tmp_path_factory.mktemp(name) / "gunicorn.log"
    proc = start_gunicorn(env, log)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return port, proc, log


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, database_url, tasks_standin, syslog):
    """gunicorn with the test callers (keys.py), shipping its logs to the syslog receiver: (port, its stdout's file)."""
    variables = {"PAPERTRAIL_DESTINATION": syslog.destination, "PAPERTRAIL_PROTOCOL": "udp"}
    port, proc, log = start_server(tmp_path_factory, database_url, tasks_standin.url, "guarded", **variables)
    yield port, log
    proc.kill()
    proc.wait(10)


@pytest.fixture(scope="module")
def rotated(tmp_path_factory, database_url, tasks_standin):
    """gunicorn after a rotation: the writer's first key revoked, its second kept."""
    callers = callers_file(WRITER.__class__(WRITER.id, WRITER.access, WRITER.keys[1:]), READER)
    port, proc, _ = start_server(tmp_path_factory, database_url, tasks_standin.url, "rotated", API_KEYS=callers)
    yield port
    proc.kill()
    proc.wait(10)


@pytest.fixture(scope="module")
def existing(guarded, tasks_standin):
    """A request made by the writer, which nothing below may change."""
    tasks_standin.known.add(TASK)
    created = send(guarded[0], "POST", "/requests", json.dumps({"task_id": TASK, "requester": "kept"}).encode())
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def call(port: int, method: str, path: str, existing: dict, **options):
    target = path.replace("{id}", str(existing["id"]))
    body = json.dumps(BODIES[method]).encode() if method in BODIES else None
    return send(port, method, target, body, **options)


def expect_unauthorized(response, expected: tuple[str, str], what: str) -> None:
    challenge, message = expected
    assert response.status_code == 401, f"{what}: {response.get_data(as_text=True)}"
    assert response.headers["WWW-Authenticate"] == challenge, what
    if response.request.method != "HEAD":
        assert response.get_json() == {
            "error": "unauthorized",
            "details": [{"field": "Authorization", "message": message}],
        }, what


def expect_nothing_changed(port: int, existing: dict, database_url: str, rows: int) -> None:
    assert send(port, "GET", f"/requests/{existing['id']}").get_json() == existing
    assert row_count(database_url) == rows


def test_it_knows_every_protected_operation_of_openapi_json_and_only_those():
    assert sorted(f"{method} {path}" for method, path in PROTECTED) == sorted(
        [
            "GET /requests",
            "HEAD /requests",
            "POST /requests",
            "OPTIONS /requests",
            "GET /requests/{id}",
            "HEAD /requests/{id}",
            "PATCH /requests/{id}",
            "DELETE /requests/{id}",
            "OPTIONS /requests/{id}",
        ]
    )


@pytest.mark.parametrize(("method", "path"), PROTECTED + NO_ROUTES, ids=[" ".join(c) for c in PROTECTED + NO_ROUTES])
def test_without_a_valid_key_every_request_but_the_public_ones_gets_401(
    guarded, rotated, existing, database_url, method, path
):
    port, _ = guarded
    rows = row_count(database_url)
    expect_unauthorized(call(port, method, path, existing, key=None), MISSING, "no Authorization")
    for name, value in MALFORMED_VALUES:
        response = call(port, method, path, existing, key=None, headers={"Authorization": value})
        expect_unauthorized(response, MALFORMED, name)
    expect_unauthorized(call(port, method, path, existing, key=UNKNOWN_KEY), UNKNOWN, "a key no caller has")
    expect_unauthorized(call(rotated, method, path, existing, key=WRITER.keys[0]), UNKNOWN, "a revoked key")
    # Two Authorization lines, even of the writer's good key.
    target = path.replace("{id}", str(existing["id"]))
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\n{AUTHORIZATION}\r\n{AUTHORIZATION}\r\nConnection: close\r\n\r\n"
    [answer] = exchange(port, head.encode(), [(method, target)]).answers
    expect_unauthorized(answer, MALFORMED, "two Authorization lines")
    expect_nothing_changed(port, existing, database_url, rows)


def test_the_scheme_in_any_case_and_either_key_of_a_rotation(guarded, rotated, existing):
    port, _ = guarded
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        assert send(port, "GET", "/requests", headers={"Authorization": f"{scheme} {WRITER_KEY}"}).status_code == 200
    for key in WRITER.keys:
        created = call(port, "POST", "/requests", existing, key=key)
        assert created.status_code == 201, created.get_json()
        assert send(port, "DELETE", f"/requests/{created.get_json()['id']}", key=key).status_code == 204
    # Once the first key is revoked, the second still works.
    assert send(rotated, "GET", "/requests", key=WRITER.keys[1]).status_code == 200


def test_a_reader_reads(guarded, existing):
    port, _ = guarded
    for method, path in PROTECTED:
        if method in READING:
            response = call(port, method, path, existing, key=READER.keys[0])
            assert response.status_code == (204 if method == "OPTIONS" else 200), f"{method} {path}"


def test_a_reader_that_writes_gets_403_before_anything_is_validated_or_routed(guarded, existing, database_url):
    port, _ = guarded
    rows = row_count(database_url)
    rid = existing["id"]
    writes = [
        *[("POST", "/requests", b'{"task_id": "' + TASK.encode() + b'", "requester": "r"}', None)],
        ("PATCH", f"/requests/{rid}", b'{"status": "rejected"}', None),
        ("DELETE", f"/requests/{rid}", None, None),
        ("POST", "/requests", b"{not json", {"Content-Type": "text/plain"}),
        ("PATCH", f"/requests/{rid}", b'{"nonsense": true}', None),
        ("DELETE", "/requests/not-an-id", None, None),
        ("PUT", "/requests", b"{}", None),
        ("POST", "/nope", b"{}", None),
        ("POST", "/health", b"{}", None),
    ]
    for method, target, body, headers in writes:
        response = send(port, method, target, body, headers=headers, key=READER.keys[0])
        assert response.status_code == 403, f"{method} {target}: {response.get_data(as_text=True)}"
        assert response.get_json() == {
            "error": "forbidden",
            "details": [{"message": "caller mobile-app may only read"}],
        }
        assert "WWW-Authenticate" not in response.headers
    expect_nothing_changed(port, existing, database_url, rows)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        (method, path, 204 if method == "OPTIONS" else 200)
        for path in ("/health", "/openapi.json")
        for method in READING
    ],
)
def test_the_public_routes_answer_whatever_the_key_which_they_do_not_check(guarded, method, path, status):
    port, _ = guarded
    keys = [
        ("no key", {"key": None}),
        ("a malformed key", {"key": None, "headers": {"Authorization": "Basic Y2k6c2VjcmV0"}}),
        ("an unknown key", {"key": UNKNOWN_KEY}),
        ("a reader's key", {"key": READER.keys[0]}),
        ("a writer's key", {}),
    ]
    for name, options in keys:
        assert send(port, method, path, **options).status_code == status, name


def test_without_a_key_a_path_that_is_no_route_gets_401_and_with_one_404_or_405(guarded):
    port, _ = guarded
    cases = [
        ("GET", "/nope", 404),
        ("GET", "/requests/", 404),
        ("GET", "/REQUESTS", 404),
        ("GET", "/requests/999999999", 404),
        ("PUT", "/requests", 405),
        ("POST", "/health", 405),
        ("CONNECT", "/requests", 405),
    ]
    for method, target, with_key in cases:
        assert send(port, method, target, key=None).status_code == 401, f"{method} {target} without a key"
        assert send(port, method, target).status_code == with_key, f"{method} {target} with a key"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ("POST /requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999", 413),
        ("POST /requests HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked", 501),
        ("POST /requests HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2", 400),
        ("GET /requests HTTP/1.1\r\nHost: a\r\nHost: b", 400),
        ("GET /requests HTTP/1.1", 400),
        ("GET /requests HTTP/2.0\r\nHost: x", 505),
        ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443", 400),
        (f"GET /requests?{'x' * 4096} HTTP/1.1\r\nHost: x", 414),
        (f"GET /requests HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 8192}", 431),
    ],
    ids=["413", "501", "framing 400", "two Hosts", "no Host", "505", "CONNECT to an authority", "414", "431"],
)
def test_without_a_key_the_http_level_refusals_come_first(guarded, head, status):
    method = head.split(" ", 1)[0]
    operation = (method, "/requests") if method in ("GET", "POST") else ("GET", "/requests")  # CONNECT: none
    [answer] = exchange(guarded[0], f"{head}\r\n\r\n".encode(), [operation], timeout=3).answers
    assert answer.status_code == status, answer.get_data(as_text=True)


ACCESS = re.compile(r"requests_service\.access: (\S+) (\S+) (\d{3}) \d+\.\dms caller=(\S+)$")


def access_lines(text: str) -> list[tuple[str, str, int, str]]:
    return [(m[1], m[2], int(m[3]), m[4]) for line in text.splitlines() if (m := ACCESS.search(line.rstrip()))]


def test_each_log_line_names_the_caller_and_no_log_holds_a_key(guarded, syslog, existing):
    port, stdout_log = guarded
    rid = existing["id"]
    send(port, "GET", "/requests?limit=1", key=WRITER.keys[1])
    send(port, "GET", f"/requests/{rid}", key=READER.keys[0])
    send(port, "DELETE", f"/requests/{rid}", key=READER.keys[0])
    send(port, "GET", "/health", key=UNKNOWN_KEY)
    send(port, "GET", "/openapi.json")
    send(port, "GET", "/requests?limit=2", key=UNKNOWN_KEY)
    send(port, "GET", "/requests?limit=3", key=None, headers={"Authorization": f"Bearer {WRITER_KEY} x"})
    send(port, "GET", "/requests/999999999")
    syslog.wait_for("GET /requests/999999999 404")
    shipped = access_lines("\n".join(syslog.settled()))
    printed = access_lines(stdout_log.read_text())

    def callers(lines, method, path, status) -> set[str]:
        return {caller for m, p, s, caller in lines if (m, p, s) == (method, path, status)}

    for lines in (shipped, printed):
        assert callers(lines, "GET", "/requests", 200) >= {"ci"}
        assert callers(lines, "GET", f"/requests/{rid}", 200) >= {"mobile-app"}
        assert callers(lines, "DELETE", f"/requests/{rid}", 403) == {"mobile-app"}
        assert callers(lines, "GET", "/health", 200) == {"null"}
        assert callers(lines, "GET", "/openapi.json", 200) == {"null"}
        assert {caller for _, _, status, caller in lines if status == 401} == {"null"}
    # Every request of this module's server reached both, with its caller: every 401 above among them (15 for each
    # operation: no key, the malformed values, an unknown key and two Authorization lines; the revoked key went to
    # the other server).
    assert sorted(shipped) == sorted(printed)
    assert sum(status == 401 for _, _, status, _ in shipped) >= len(PROTECTED + NO_ROUTES) * (len(MALFORMED_VALUES) + 3)
    everything = stdout_log.read_text() + "\n".join(syslog.messages)
    assert key_material_in(everything) == []
    assert "authorization" not in everything.lower()
    assert "bearer" not in everything.lower()


def test_the_search_for_key_material_bites():
    key = READER.keys[0]
    assert key_material_in(f"x{key}y")
    assert key_material_in(f"a fragment: {key[20:32]}")
    assert key_material_in(callers_file(READER))
    assert key_material_in("no key here") == []
