"""The HTTP limits of docs/api.md, and the app's reading of a request body within them.

The request target and the headers are checked on the head as the worker receives it (http_rules.py), before any
thread or body is spent on the request; the body's size here, where the app reads it, whatever its framing.
"""

from flask import g, request
from werkzeug.wsgi import get_input_stream

from .errors import ApiError, detail

BODY_MAX = 64 * 1024  # bytes of a request body, however it is framed
TARGET_MAX = 4096  # bytes of the request target (path and query, as sent)
HEADER_MAX = 8 * 1024  # bytes of one header, counted as `name: value` and its CRLF
HEADERS_MAX = 16 * 1024  # bytes of all headers, counted the same way
HEADER_COUNT_MAX = 100  # header fields

TOO_LARGE = (413, "body too large", f"the body must be at most {BODY_MAX} bytes")
URI_TOO_LONG = (414, "request target too long", f"the path and query must be at most {TARGET_MAX} bytes")
HEADERS_TOO_LARGE = (
    431,
    "request headers too large",
    f"send at most {HEADER_COUNT_MAX} headers, of at most {HEADER_MAX} bytes each and {HEADERS_MAX} bytes in all, "
    "each counted as `name: value` and its CRLF",
)


def refusal(status: int, error: str, message: str) -> ApiError:
    return ApiError(status, error, [detail(None, message)])


def read_body() -> bytes:
    """The whole request body, or a 413 when it is over BODY_MAX bytes: at most BODY_MAX + 1 bytes are read, whether
    the body comes with a Content-Length or chunked, so a body is never taken in part. Read once per request."""
    if "body" in g:
        return g.body
    # Without max_content_length, werkzeug hands over the server's own stream (gunicorn ends it where the body ends,
    # for both framings); werkzeug's own limit would stop at BODY_MAX bytes and call that the whole body.
    stream = get_input_stream(request.environ, max_content_length=None)
    declared = request.content_length
    # An over-large body is not read: the worker closes the connection after the answer (worker.py).
    if declared is not None and declared > BODY_MAX:
        raise refusal(*TOO_LARGE)
    body = _read(stream, BODY_MAX + 1)
    if len(body) > BODY_MAX:
        raise refusal(*TOO_LARGE)
    g.body = body
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
