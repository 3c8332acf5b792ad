"""Idempotency-Key on POST (draft-ietf-httpapi-idempotency-key-header): a retry gets the first answer and creates
nothing more.

The first request with a key runs in one transaction that holds a lock on the key (a transaction-scoped advisory
lock) from start to end: it looks the key up, runs the view (which asks the tasks service meanwhile), and stores the
answer with the key in the same transaction as what the view created. So:
- the answer is stored exactly when what it created is; a failure (a 503) rolls both back, and stores nothing;
- another request with the key while the first runs finds the lock taken: 409, retry later;
- when the process or its connection dies, PostgreSQL releases the lock: a key is never stuck "in progress".
A stored answer is replayed for the same method, path and body (their SHA-256) within 24 h of the key's first use;
another request with the key is a 422. Expired keys are deleted a few at a time by the requests that store a new one.
"""

import functools
import hashlib
import re

from flask import Response, make_response, request

from .db import commit, get_db
from .errors import JSON_TYPE, ApiError, detail, error_response
from .limits import read_body

HEADER = "Idempotency-Key"
LOCK_CLASS = 5_000_002  # the first key of the two-key advisory lock; the second is hashtext(key)
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII
# The draft's form, a Structured Field sf-string (RFC 8941 §3.3.3): printable ASCII in quotes, \" and \\ escaped.
QUOTED = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\\"])*)"')

LOCK = "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s)) AS locked"
LOOKUP = "SELECT fingerprint, status, body, location FROM idempotency_keys WHERE key = %s AND expires_at > now()"
# The key is locked and has no live row, so a row there has expired: it is replaced. Keys live 24 h.
STORE = (
    "INSERT INTO idempotency_keys (key, fingerprint, status, body, location, expires_at)"
    " VALUES (%s, %s, %s, %s, %s, now() + interval '24 hours')"
    " ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status,"
    " body = EXCLUDED.body, location = EXCLUDED.location, expires_at = EXCLUDED.expires_at"
)
# A hundred at a time, skipping those another request is replacing.
DELETE_EXPIRED = (
    "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys"
    " WHERE expires_at <= now() LIMIT 100 FOR UPDATE SKIP LOCKED)"
)

SAFE_RETRY = (
    "The database stopped answering after the request was sent for commit, so it may or may not have been created. "
    f"A retry with the same {HEADER} is safe: it returns the answer of the request if it was created, or creates it."
)
IN_PROGRESS = "a request with this key is still being processed; retry later"
REUSED = "this key was used for another request (method, path or body) within 24 h; use a new key"
UNSAFE_RETRY = (
    "The database stopped answering after the request was sent for commit, so it may or may not have been created. "
    f"Look for it before creating it again, or send an {HEADER}: with one, a retry is safe."
)


def idempotent(view):
    """Wrap a POST view that writes without committing: commit what it wrote, and with an Idempotency-Key, store its
    answer with it, replay a stored answer, or refuse."""

    @functools.wraps(view)
    def run(*args, **kwargs):
        key = request_key()
        if key is None:
            response = make_response(view(*args, **kwargs))
            commit(get_db(), UNSAFE_RETRY)
            return response
        fingerprint = hashlib.sha256(f"{request.method} {request.path}\n".encode() + read_body()).digest()
        db = get_db()
        with db.cursor() as cur:
            cur.execute(LOCK, (LOCK_CLASS, key))
            if not cur.fetchone()["locked"]:
                raise ApiError(409, "request in progress", [detail(HEADER, IN_PROGRESS)])
            cur.execute(LOOKUP, (key,))
            stored = cur.fetchone()
        if stored is not None:
            db.rollback()  # releases the lock
            if bytes(stored["fingerprint"]) != fingerprint:
                raise ApiError(422, f"{HEADER} reused", [detail(HEADER, REUSED)])
            return replay(stored)
        try:
            response = make_response(view(*args, **kwargs))
        except ApiError as error:  # a 4xx is the request's answer too: stored like a success
            response = error_response(error.status, error.error, error.details)
        location = response.headers.get("Location")
        with db.cursor() as cur:
            cur.execute(STORE, (key, fingerprint, response.status_code, response.get_data(), location))
            cur.execute(DELETE_EXPIRED)
        commit(db, SAFE_RETRY)
        return response

    return run


def request_key() -> str | None:
    """The request's Idempotency-Key, unquoted; None without one. Raises a 400 naming it when it is malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    quoted = QUOTED.fullmatch(raw)
    key = re.sub(r"\\(.)", r"\1", quoted[1]) if quoted else raw
    if not KEY.fullmatch(key) or (raw.startswith('"') and not quoted):
        raise ApiError(
            400,
            f"invalid {HEADER}",
            [detail(HEADER, 'must be 1 to 255 visible ASCII characters, as they are or in double quotes ("key")')],
        )
    return key


def replay(stored: dict) -> Response:
    response = Response(bytes(stored["body"]), stored["status"], content_type=JSON_TYPE)
    if stored["location"]:
        response.headers["Location"] = stored["location"]
    response.headers["Idempotent-Replayed"] = "true"
    return response
