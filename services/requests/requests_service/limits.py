"""The HTTP limits of docs/api.md: the request target, the headers and the body, checked in the app where gunicorn
lets a request through, with the same JSON errors gunicorn's own refusals get (see worker.py).

gunicorn.conf.py sets gunicorn's limits above these, so the app decides at the documented numbers exactly; gunicorn
refuses only what is far past them (a request line over 8190 bytes, a header line over 16 KiB, over 100 headers).
"""

import time

from flask import request
from werkzeug.wsgi import get_input_stream

from .errors import ApiError, detail

BODY_MAX = 64 * 1024  # bytes of a request body, however it is framed
TARGET_MAX = 4096  # bytes of the request target (path and query, as sent)
HEADER_MAX = 8 * 1024  # bytes of one header, name and value
HEADERS_MAX = 16 * 1024  # bytes of all headers, names and values
HEADER_COUNT_MAX = 100  # header fields; gunicorn counts them
# An over-large body is still read, and dropped, up to these bounds before its 413 goes out (see _drain).
DRAIN_MAX = 16 * 1024 * 1024
DRAIN_SECONDS = 10.0
DRAIN_CHUNK = 256 * 1024

TOO_LARGE = (413, "body too large", f"the body must be at most {BODY_MAX} bytes")
URI_TOO_LONG = (414, "request target too long", f"the path and query must be at most {TARGET_MAX} bytes")
HEADERS_TOO_LARGE = (
    431,
    "request headers too large",
    f"send at most {HEADER_COUNT_MAX} headers, of at most {HEADER_MAX} bytes each (name and value) "
    f"and {HEADERS_MAX} bytes in all",
)


def refusal(status: int, error: str, message: str) -> ApiError:
    return ApiError(status, error, [detail(None, message)])


def check_request_head() -> None:
    """Refuse a request target or headers over the limits (a before_request hook: it runs before routing)."""
    if len(request.environ.get("RAW_URI") or request.full_path) > TARGET_MAX:
        raise refusal(*URI_TOO_LONG)
    sizes = [len(name) + len(value) for name, value in request.headers.items()]
    if max(sizes, default=0) > HEADER_MAX or sum(sizes) > HEADERS_MAX:
        raise refusal(*HEADERS_TOO_LARGE)


def read_body() -> bytes:
    """The whole request body, or a 413 when it is over BODY_MAX bytes: at most BODY_MAX + 1 bytes are kept, whether
    the body comes with a Content-Length or chunked, so a body is never taken in part."""
    # Without max_content_length, werkzeug hands over the server's own stream (gunicorn ends it where the body ends,
    # for both framings); werkzeug's own limit would stop at BODY_MAX bytes and call that the whole body.
    stream = get_input_stream(request.environ, max_content_length=None)
    declared = request.content_length
    if declared is not None and declared > BODY_MAX:
        if declared <= DRAIN_MAX:
            _drain(stream)
        raise refusal(*TOO_LARGE)
    body = _read(stream, BODY_MAX + 1)
    if len(body) > BODY_MAX:
        _drain(stream)
        raise refusal(*TOO_LARGE)
    return body


def _read(stream, size: int) -> bytes:
    body = bytearray()
    try:
        while len(body) < size:
            chunk = stream.read(size - len(body))
            if not chunk:
                break
            body += chunk
    except Exception as error:  # a broken chunked framing or a client gone midway: gunicorn's or werkzeug's error
        raise ApiError(400, "unreadable body", [detail(None, f"the body could not be read as sent: {error}")]) from None
    return bytes(body)


def _drain(stream) -> None:
    """Read and drop the rest of an over-large body, up to DRAIN_MAX bytes and DRAIN_SECONDS, so that a client still
    sending it gets its 413. gunicorn drains only 64 KiB of what an app left unread, then closes the connection under
    the client, which then sees a reset instead of the answer. Past these bounds, that is what happens."""
    deadline = time.monotonic() + DRAIN_SECONDS
    drained = 0
    try:
        while drained <= DRAIN_MAX and time.monotonic() < deadline:
            chunk = stream.read(DRAIN_CHUNK)
            if not chunk:
                return
            drained += len(chunk)
    except Exception:  # noqa: S110 - a broken framing: gunicorn closes the connection after the answer anyway
        pass
