"""Caller authentication (docs/api.md § Authentication): every request but the public ones needs a known key, and a
caller that may only read cannot write.

The check is the app's first before_request hook: it comes after the worker's HTTP checks (worker.py), and before
routing's answers (Flask raises a routing 404 or 405 only once the hooks have run) and every validation, so a path
that is no route gets 401 without a key too, and a body is never looked at for a caller that may not send it. The key
itself is never kept, logged or echoed; the caller's id is, on the request's log line (logs.py)."""

from flask import Flask, current_app, g, request

from .callers import KEY
from .errors import ApiError, detail

REALM = 'Bearer realm="requests"'
PUBLIC_PATHS = ("/health", "/openapi.json")
READING_METHODS = ("GET", "HEAD", "OPTIONS")  # everything else writes; the public paths are public to reading only
SCHEME = "bearer "  # RFC 6750 §2.1: the scheme in any case, one space, the key


def init_app(app: Flask) -> None:
    app.before_request(check)


def check() -> None:
    """Refuse the request (401, 403) unless it is public or its caller may make it; record its caller in g.caller."""
    g.caller = None
    if request.path in PUBLIC_PATHS and request.method in READING_METHODS:
        return
    # A WSGI server joins repeated header lines with a comma, which no key holds: two lines are malformed too.
    value = request.headers.get("Authorization")
    if value is None:
        raise _unauthorized(REALM, "a key is required: Authorization: Bearer <key>")
    key = value[len(SCHEME) :]
    if value[: len(SCHEME)].lower() != SCHEME or not KEY.fullmatch(key):
        raise _unauthorized(f'{REALM}, error="invalid_request"', "must be Bearer <key>")
    caller = current_app.config["API_KEYS"].find(key)
    if caller is None:
        raise _unauthorized(f'{REALM}, error="invalid_token"', "is not a known key")
    g.caller = caller.id
    if caller.access == "read" and request.method not in READING_METHODS:
        raise ApiError(403, "forbidden", [detail(None, f"caller {caller.id} may only read")])


def _unauthorized(challenge: str, message: str) -> ApiError:
    return ApiError(401, "unauthorized", [detail("Authorization", message)], {"WWW-Authenticate": challenge})
