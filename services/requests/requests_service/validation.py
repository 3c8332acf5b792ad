"""Input checks: bodies, ids and query parameters become typed values, or an ApiError that names every bad field.

Strict on purpose: unknown fields and parameters are refused rather than ignored, so a client's typo is an error
instead of a silently different request. The patterns here are the ones openapi.json states (a test holds them equal).
"""

import json
import re
from collections import Counter
from urllib.parse import parse_qsl

from flask import g, request

from .errors import ApiError, detail
from .limits import read_body

STATUSES = ("pending", "approved", "rejected")
SORTS = ("-created_at", "created_at", "-updated_at", "updated_at")  # the first is the default
TASK_ID = re.compile(r"[0-9a-f]{24}")  # a MongoDB ObjectId, as the tasks service writes it
MAX_ID = 2**63 - 1  # BIGSERIAL
REQUESTER_MAX = 100  # characters (code points), after trimming
NOTE_MAX = 1000  # characters (code points); a note is kept as sent
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
OFFSET_MAX = 100_000  # deep OFFSETs scan every skipped row

# What "surrounding whitespace" means: Unicode's White_Space characters, as a regex class. Spelled out rather than
# Python's \s or a bare str.strip(), which also take U+001C..U+001F, so that every JSON Schema engine reads
# openapi.json's patterns as this code does.
WHITESPACE_CLASS = r"\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if re.fullmatch(f"[{WHITESPACE_CLASS}]", c))
# One to REQUESTER_MAX characters between optional whitespace, the first and last not whitespace, none of them NUL
# (PostgreSQL text cannot hold it).
_WS = WHITESPACE_CLASS
REQUESTER_PATTERN = rf"^[{_WS}]*[^{_WS}\x00](?:[^\x00]{{0,{REQUESTER_MAX - 2}}}[^{_WS}\x00])?[{_WS}]*$"
NOTE_PATTERN = r"^[^\x00]*$"

# Content-Type (RFC 9110 §8.3.1): type/subtype, then parameters `; name=value`, the value a token or a quoted string.
_WORD = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # RFC 9110's token
_PARAMETER = rf'({_WORD})=({_WORD}|"(?:[\t !#-\[\]-~]|\\[\t -~])*")'
# Possessive quantifiers: a value that does not match fails at once, never by backtracking (` ;` a few thousand times).
CONTENT_TYPE = re.compile(rf"({_WORD}/{_WORD})((?:[ \t]*+;[ \t]*+(?:{_PARAMETER})?+)*+)[ \t]*+")
PARAMETER = re.compile(_PARAMETER)
CONTENT_TYPE_RULE = "send the body as JSON in UTF-8: Content-Type application/json, with no parameter but charset=utf-8"

# The query parameters each route takes; any other, or one given twice, is a 400.
QUERY_PARAMETERS = {"requests.list_requests": ("limit", "offset", "sort", "status", "task_id", "requester")}


def parse_id(raw: str) -> int:
    """The <id> of a URL: ASCII digits only (int() would also take '+1', '1_0' and non-ASCII digits), 1..2^63-1."""
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not 1 <= int(raw) <= MAX_ID:
        raise ApiError(400, "invalid id", [detail("id", f"must be an integer from 1 to {MAX_ID}")])
    return int(raw)


def check_path() -> None:
    """A before_request hook: a bad id in the path is a 400 for every method, OPTIONS too (Flask answers OPTIONS
    without calling the view that would check it)."""
    if request.view_args and "request_id" in request.view_args:
        parse_id(request.view_args["request_id"])


def check_query() -> None:
    """A before_request hook: decode the query string strictly (UTF-8, every name once, only the route's own names)
    into g.query. Unknown routes are left to their 404."""
    if request.endpoint is None:
        return
    try:
        pairs = parse_qsl(
            request.query_string.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise ApiError(400, "invalid query parameters", [detail(None, "the query is not valid UTF-8")]) from None
    allowed = QUERY_PARAMETERS.get(request.endpoint, ())
    names = [name for name, _ in pairs]
    hint = f"allowed: {', '.join(allowed)}" if allowed else "this route takes no query parameters"
    problems = [detail(name, f"unknown parameter; {hint}") for name in dict.fromkeys(names) if name not in allowed]
    problems += [detail(name, "given more than once") for name, count in Counter(names).items() if count > 1]
    if problems:
        raise ApiError(400, "invalid query parameters", problems)
    g.query = dict(pairs)


def json_object() -> dict:
    """The request body as a JSON object: Content-Type application/json (UTF-8), at most limits.BODY_MAX bytes."""
    if not _json_content_type(request.headers.get("Content-Type")):
        raise ApiError(415, "unsupported media type", [detail("Content-Type", CONTENT_TYPE_RULE)])
    raw = read_body()
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise ApiError(400, "malformed JSON", [detail(None, "the body is not valid UTF-8")]) from None
    except RecursionError:
        raise ApiError(400, "malformed JSON", [detail(None, "the body is nested too deeply")]) from None
    except ValueError as error:
        raise ApiError(400, "malformed JSON", [detail(None, f"the body is not valid JSON: {error}")]) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid body", [detail(None, f"the body must be a JSON object, not {_kind(body)}")])
    return body


def _json_content_type(value: str | None) -> bool:
    """application/json in any case, with no parameter or a single charset=utf-8 (any case, quoted or not)."""
    match = CONTENT_TYPE.fullmatch(value or "")
    if match is None or match[1].lower() != "application/json":
        return False
    parameters = PARAMETER.findall(match[2])
    if len(parameters) > 1:
        return False
    if not parameters:
        return True
    name, value = parameters[0]
    if value.startswith('"'):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return name.lower() == "charset" and value.lower() == "utf-8"


def new_request(body: dict) -> dict:
    """Check a POST /requests body: { task_id, requester, note? }."""
    problems = _fields(body, required=("task_id", "requester"), optional=("note",))
    if "task_id" in body:
        _check(problems, "task_id", _task_id(body["task_id"]))
    if "requester" in body:
        _check(problems, "requester", _requester(body["requester"]))
    if body.get("note") is not None:
        _check(problems, "note", _text(body["note"], NOTE_MAX))
    if problems:
        raise ApiError(400, "invalid request body", problems)
    return {"task_id": body["task_id"], "requester": trim(body["requester"]), "note": body.get("note")}


def status_change(body: dict) -> str:
    """Check a PATCH /requests/<id> body: { status }."""
    problems = _fields(body, required=("status",), optional=())
    if "status" in body and body["status"] not in STATUSES:
        problems.append(detail("status", f"must be one of {', '.join(STATUSES)}"))
    if problems:
        raise ApiError(400, "invalid request body", problems)
    return body["status"]


def list_params() -> dict:
    """GET /requests's query (already limited to its names by check_query): paging, sort and filters."""
    args = g.query
    problems = []
    params = {"limit": LIMIT_DEFAULT, "offset": 0, "sort": SORTS[0], "status": None, "task_id": None}
    for name, low, high in (("limit", 1, LIMIT_MAX), ("offset", 0, OFFSET_MAX)):
        if name in args:
            raw = args[name]
            if re.fullmatch(r"[0-9]{1,7}", raw) and low <= int(raw) <= high:
                params[name] = int(raw)
            else:
                problems.append(detail(name, f"must be an integer from {low} to {high}"))
    for name, allowed in (("sort", SORTS), ("status", STATUSES)):
        if name in args:
            params[name] = args[name]
            if args[name] not in allowed:
                problems.append(detail(name, f"must be one of {', '.join(allowed)}"))
    if "task_id" in args:
        params["task_id"] = args["task_id"]
        _check(problems, "task_id", _task_id(args["task_id"]))
    params["requester"] = trim(args["requester"]) if "requester" in args else None
    if "requester" in args:
        _check(problems, "requester", _requester(args["requester"]))
    if problems:
        raise ApiError(400, "invalid query parameters", problems)
    return params


def trim(text: str) -> str:
    return text.strip(WHITESPACE)


def _fields(body: dict, required: tuple, optional: tuple) -> list[dict]:
    problems = [detail(name, "is required") for name in required if name not in body]
    allowed = ", ".join(required + optional)
    problems += [detail(name, f"unknown field; allowed: {allowed}") for name in body if name not in required + optional]
    return problems


def _task_id(value) -> str | None:
    if not isinstance(value, str) or not TASK_ID.fullmatch(value):
        return "must be a task id: 24 lowercase hexadecimal characters"
    return None


def _requester(value) -> str | None:
    problem = _text(value, max_length=None)
    if problem:
        return problem
    if not trim(value):
        return "must not be empty"
    if len(trim(value)) > REQUESTER_MAX:
        return f"must be at most {REQUESTER_MAX} characters, not counting surrounding whitespace"
    return None


def _text(value, max_length: int | None) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {_kind(value)}"
    if max_length is not None and len(value) > max_length:
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


def _unique_keys(pairs: list[tuple]) -> dict:
    repeated = sorted(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
    if repeated:
        raise ValueError(f"the key {repeated[0]!r} is given more than once")
    return dict(pairs)
