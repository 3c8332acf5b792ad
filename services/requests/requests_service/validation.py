"""Input checks: bodies, ids and query parameters become typed values, or an ApiError that names every bad field.

Strict on purpose: unknown fields and parameters are refused rather than ignored, so a client's typo is an error
instead of a silently different request.
"""

import json
import re

from flask import request

from .errors import ApiError, detail

STATUSES = ("pending", "approved", "rejected")
TASK_ID = re.compile(r"[0-9a-f]{24}")  # a MongoDB ObjectId, as the tasks service writes it
MAX_ID = 2**63 - 1  # BIGSERIAL
REQUESTER_MAX = 100
NOTE_MAX = 1000
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
OFFSET_MAX = 100_000  # deep OFFSETs scan every skipped row


def parse_id(raw: str) -> int:
    """The <id> of a URL: ASCII digits only (int() would also take '+1', '1_0' and non-ASCII digits), 1..2^63-1."""
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not 1 <= int(raw) <= MAX_ID:
        raise ApiError(400, "invalid id", [detail("id", f"must be an integer from 1 to {MAX_ID}")])
    return int(raw)


def json_object() -> dict:
    """The request body as a JSON object."""
    if not request.is_json:
        raise ApiError(
            415, "unsupported media type", [detail(None, "send the body as JSON, Content-Type: application/json")]
        )
    try:
        body = json.loads(request.get_data(cache=False), parse_constant=_no_constants)
    except RecursionError:
        raise ApiError(400, "malformed JSON", [detail(None, "the body is nested too deeply")]) from None
    except ValueError as error:  # also UnicodeDecodeError, for bytes that are not UTF-8
        raise ApiError(400, "malformed JSON", [detail(None, f"the body is not valid JSON: {error}")]) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid body", [detail(None, f"the body must be a JSON object, not {_kind(body)}")])
    return body


def new_request(body: dict) -> dict:
    """Check a POST /requests body: { task_id, requester, note? }."""
    problems = _fields(body, required=("task_id", "requester"), optional=("note",))
    if "task_id" in body:
        _check(problems, "task_id", _task_id(body["task_id"]))
    if "requester" in body:
        _check(problems, "requester", _text(body["requester"], REQUESTER_MAX, blank_ok=False))
    if body.get("note") is not None:
        _check(problems, "note", _text(body["note"], NOTE_MAX, blank_ok=True))
    if problems:
        raise ApiError(400, "invalid request body", problems)
    return {"task_id": body["task_id"], "requester": body["requester"].strip(), "note": body.get("note")}


def status_change(body: dict) -> str:
    """Check a PATCH /requests/<id> body: { status }."""
    problems = _fields(body, required=("status",), optional=())
    if "status" in body and body["status"] not in STATUSES:
        problems.append(detail("status", f"must be one of {', '.join(STATUSES)}"))
    if problems:
        raise ApiError(400, "invalid request body", problems)
    return body["status"]


def list_params() -> dict:
    """Check GET /requests's query: limit, offset, status, task_id."""
    args = request.args
    problems = [
        detail(k, "unknown parameter; allowed: limit, offset, status, task_id")
        for k in args
        if k not in ("limit", "offset", "status", "task_id")
    ]
    problems += [detail(k, "given more than once") for k in args if len(args.getlist(k)) > 1]
    params = {"limit": LIMIT_DEFAULT, "offset": 0, "status": None, "task_id": None}
    for name, low, high in (("limit", 1, LIMIT_MAX), ("offset", 0, OFFSET_MAX)):
        if name in args:
            raw = args[name]
            if re.fullmatch(r"[0-9]{1,7}", raw) and low <= int(raw) <= high:
                params[name] = int(raw)
            else:
                problems.append(detail(name, f"must be an integer from {low} to {high}"))
    if "status" in args:
        params["status"] = args["status"]
        if args["status"] not in STATUSES:
            problems.append(detail("status", f"must be one of {', '.join(STATUSES)}"))
    if "task_id" in args:
        params["task_id"] = args["task_id"]
        _check(problems, "task_id", _task_id(args["task_id"]))
    if problems:
        raise ApiError(400, "invalid query parameters", problems)
    return params


def _fields(body: dict, required: tuple, optional: tuple) -> list[dict]:
    problems = [detail(name, "is required") for name in required if name not in body]
    allowed = ", ".join(required + optional)
    problems += [detail(name, f"unknown field; allowed: {allowed}") for name in body if name not in required + optional]
    return problems


def _task_id(value) -> str | None:
    if not isinstance(value, str) or not TASK_ID.fullmatch(value):
        return "must be a task id: 24 lowercase hexadecimal characters"
    return None


def _text(value, max_length: int, blank_ok: bool) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {_kind(value)}"
    if not blank_ok and not value.strip():
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    if "\x00" in value:
        return "must not contain the NUL character"  # PostgreSQL text cannot store it
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def _check(problems: list[dict], field: str, message: str | None) -> None:
    if message:
        problems.append(detail(field, message))


def _kind(value) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")
