"""The contract hook: every response a test receives is checked against openapi.json, through check_response.

The Flask test client of every app the tests build is ContractClient (conftest.py), and the helpers that talk to a
real gunicorn (support.http, support.raw_http) pass their answers here too. An operation's answer runs schemathesis'
own response checks, the ones the fuzzer runs: a documented status, its content type, its headers and its body's
schema. An answer outside the document's operations (an unknown path, a method a path does not serve) must be one of
the errors every path may give, with the document's Error body. Every answer, of any kind, says
`X-Content-Type-Options: nosniff`.
"""

import json
import re
from pathlib import Path

import jsonschema
import schemathesis
from flask.testing import FlaskClient
from schemathesis import checks
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

DOCUMENT = json.loads((Path(__file__).resolve().parents[1] / "openapi.json").read_text())
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
# No not_a_server_error: the tests provoke the documented 503s on purpose, and a 500 is documented nowhere, so
# status_code_conformance refuses it.
CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.allow_header_conformance,
]
HEAD_CHECKS = [checks.status_code_conformance]  # a HEAD answer has no body to check
METHODS = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
ERROR_BODY = jsonschema.Draft202012Validator(
    {"$ref": "#/components/schemas/Error", "components": DOCUMENT["components"]},
    format_checker=jsonschema.FormatChecker(),
)
JSON_TYPE = "application/json; charset=utf-8"
# What any path may answer: the server's refusals of a request's head (Host, framing, version, limits, timeout) too.
ANY_PATH = (400, 404, 408, 414, 431, 501, 505)


class ContractClient(FlaskClient):
    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        check_response(response)
        return response


def check_response(response: TestResponse) -> None:
    """Raise when the answer breaks the document: schemathesis' FailureGroup, or an AssertionError."""
    __tracebackhide__ = True
    method, path = response.request.method, response.request.path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", f"{method} {path}: no nosniff"
    if method == "HEAD":
        assert response.get_data() == b"", "a HEAD answer has a body"
    operation = SCHEMA.find_operation_by_path("GET" if method == "HEAD" else method, path)
    if operation is None:
        _check_outside_operations(method, path, response)
        return
    case = operation.Case(method="GET" if method == "HEAD" else method, path_parameters=_parameters(operation, path))
    case.validate_response(response, checks=HEAD_CHECKS if method == "HEAD" else CHECKS)


def _parameters(operation, path: str) -> dict[str, str]:
    """The path parameters of `path`, by the names of the operation's template (/requests/{id})."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(operation.path))
    return re.fullmatch(pattern, path).groupdict()


def _check_outside_operations(method: str, path: str, response: TestResponse) -> None:
    __tracebackhide__ = True
    served = [m for m in METHODS if SCHEMA.find_operation_by_path(m, path) is not None]
    allowed = (405,) if served else ANY_PATH
    assert response.status_code in allowed, f"{method} {path}: {response.status_code}, expected one of {allowed}"
    if response.status_code == 405:
        assert set(response.headers.get("Allow", "").replace(" ", "").split(",")) >= set(served), "405 without Allow"
    if method != "HEAD":
        assert response.headers.get("Content-Type") == JSON_TYPE, f"{method} {path}: {response.content_type}"
        ERROR_BODY.validate(json.loads(response.get_data()))


def as_test_response(method: str, target: str, status: int, headers: list[tuple[str, str]], body: bytes):
    """An answer that came over a socket, in the form check_response takes."""
    request = Request(EnvironBuilder(path=target, method=method).get_environ())
    return TestResponse([body], status, headers, request)
