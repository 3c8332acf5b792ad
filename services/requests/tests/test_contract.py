"""openapi.json itself: a valid OpenAPI 3.1 document that says what the code does; and the contract hook (contract.py)
that checks every answer of every test, shown to refuse answers that break the document."""

import json

import pytest
from contract import DOCUMENT, SCHEMA, as_test_response, check_response
from schemathesis.core.failures import FailureGroup

from requests_service import limits, validation

GOOD_REQUEST = {
    "id": 1,
    "task_id": "a" * 24,
    "requester": "ana",
    "note": None,
    "status": "pending",
    "created_at": "2026-11-29T10:00:00.000Z",
    "updated_at": "2026-11-29T10:00:00.000Z",
}
JSON = [("Content-Type", "application/json; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
OFFSET_TIME = "2026-11-29T10:00:00+00:00"


def answer(method, target, status, body, headers=JSON):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return as_test_response(method, target, status, headers, data)


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1.")
    SCHEMA.validate()  # against the OpenAPI 3.1 meta-schema; raises on a mistake


def test_the_document_states_the_codes_limits():
    schemas, parameters = DOCUMENT["components"]["schemas"], DOCUMENT["components"]["parameters"]
    assert schemas["Requester"]["pattern"] == validation.REQUESTER_PATTERN
    assert schemas["NewRequest"]["properties"]["note"]["maxLength"] == validation.NOTE_MAX
    assert schemas["NewRequest"]["properties"]["note"]["pattern"] == validation.NOTE_PATTERN
    assert schemas["Id"]["maximum"] == validation.MAX_ID
    assert schemas["Status"]["enum"] == list(validation.STATUSES)
    assert parameters["limit"]["schema"]["maximum"] == validation.LIMIT_MAX
    assert parameters["limit"]["schema"]["default"] == validation.LIMIT_DEFAULT
    assert parameters["offset"]["schema"]["maximum"] == validation.OFFSET_MAX
    assert parameters["sort"]["schema"]["enum"] == list(validation.SORTS)
    assert parameters["sort"]["schema"]["default"] == validation.SORTS[0]
    described = json.dumps(DOCUMENT["components"]["responses"])
    for number in (limits.BODY_MAX, limits.TARGET_MAX, limits.HEADER_MAX, limits.HEADERS_MAX):
        assert f"{number} bytes" in described


def test_every_object_schema_is_closed():
    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield node
            for value in node.values():
                yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    found = list(objects(DOCUMENT))
    assert len(found) >= 7
    assert all(schema.get("additionalProperties") is False for schema in found)


def test_every_operation_documents_its_errors_with_the_error_schema():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert {"400", "414", "431"} <= set(responses), f"{method} {path}"
            for status, response in responses.items():
                if status.startswith(("4", "5")) and (path, status) != ("/health", "503"):
                    assert response == {"$ref": f"#/components/responses/{response['$ref'].rsplit('/', 1)[1]}"}
                    named = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                    schema = named["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"


# The hook refuses what breaks the document: each of these answers is wrong in one way.
WRONG = [
    ("a field of the wrong type", answer("GET", "/requests/1", 200, {**GOOD_REQUEST, "id": "1"})),
    ("a field too many", answer("GET", "/requests/1", 200, {**GOOD_REQUEST, "title": "x"})),
    ("a field missing", answer("GET", "/requests/1", 200, {k: v for k, v in GOOD_REQUEST.items() if k != "note"})),
    ("a time with an offset", answer("GET", "/requests/1", 200, {**GOOD_REQUEST, "created_at": OFFSET_TIME})),
    ("a camelCase name", answer("GET", "/requests/1", 200, {**GOOD_REQUEST, "createdAt": OFFSET_TIME})),
    ("an undocumented status", answer("GET", "/requests/1", 500, {"error": "internal error", "details": []})),
    ("an HTML error page", answer("GET", "/requests/1", 404, b"<h1>Not Found</h1>", [("Content-Type", "text/html")])),
    ("an answer without nosniff", answer("GET", "/health", 200, {"status": "ok", "database": "ok"}, JSON[:1])),
    ("an error without details", answer("GET", "/requests/1", 404, {"error": "request not found"})),
    ("a list without next", answer("GET", "/requests", 200, {"items": [], "total": 0, "limit": 20, "offset": 0})),
    ("a create without Location", answer("POST", "/requests", 201, GOOD_REQUEST)),
    ("an unknown path answering 200", answer("GET", "/tasks", 200, {"items": []})),
    ("a 405 without Allow", answer("PUT", "/requests", 405, {"error": "method not allowed", "details": []})),
    ("a HEAD answer with a body", answer("HEAD", "/health", 200, {"status": "ok", "database": "ok"})),
]


@pytest.mark.parametrize("response", [case[1] for case in WRONG], ids=[case[0] for case in WRONG])
def test_the_hook_refuses_a_wrong_answer(response):
    with pytest.raises((FailureGroup, AssertionError)):
        check_response(response)


def test_the_hook_accepts_the_same_answers_done_right():
    check_response(answer("GET", "/requests/1", 200, GOOD_REQUEST))
    check_response(answer("POST", "/requests", 201, GOOD_REQUEST, [*JSON, ("Location", "/requests/1")]))
    check_response(answer("GET", "/tasks", 404, {"error": "not found", "details": [{"message": "no such route"}]}))
    allow = ("Allow", "GET, HEAD, OPTIONS, POST")
    check_response(answer("PUT", "/requests", 405, {"error": "method not allowed", "details": []}, [*JSON, allow]))


def test_the_hook_checks_what_the_test_client_gets(make_app):
    # A route the document does not have, added to one app: the client's answer is refused before the test sees it.
    app = make_app()
    app.add_url_rule("/teapot", "teapot", lambda: ({"tea": True}, 200))
    with pytest.raises(AssertionError, match="GET /teapot: 200"):
        app.test_client().get("/teapot")
