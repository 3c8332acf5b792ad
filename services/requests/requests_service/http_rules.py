"""The HTTP rules of docs/api.md (HTTP semantics, and the limits on the request target and the headers), checked on a
request's head as the worker receives it (incoming.py), before a thread or a byte of body is spent on the request.

The head is read as gunicorn's parser reads it: one empty line before the request line is skipped, lines end with
CRLF, a header is `name:value` with the blanks around the value dropped, names are case-insensitive. A head that is
not even that (no version, a line without a colon) is left to gunicorn, whose parser refuses it with a 400; so a head
admitted here is one gunicorn reads the same way.
"""

import ipaddress
import re
from dataclasses import dataclass

from .errors import ApiError, detail
from .limits import HEADER_COUNT_MAX, HEADER_MAX, HEADERS_MAX, HEADERS_TOO_LARGE, TARGET_MAX, URI_TOO_LONG, refusal

TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2
VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")  # RFC 9112 §2.3: one digit each
# RFC 9112 §3.2: Host = uri-host [ ":" port ], uri-host being RFC 3986's host: an IP literal in brackets, or a
# reg-name (an IPv4 address is one too). An empty reg-name is allowed: a target without authority sends `Host:`.
REG_NAME = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*"
HOST = re.compile(rf"(?:\[(?P<literal>[^\]]*)\]|{REG_NAME})(?::[0-9]*)?")
IP_FUTURE = re.compile(r"v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")
HOST_RULE = "must be a host name, an IPv4 address or an IP literal in brackets, and an optional :port (RFC 9112 §3.2)"


@dataclass(frozen=True)
class Head:
    """What the worker needs to know of an admitted head to gather the rest of the request."""

    content_length: int | None  # None: no body, or a chunked one
    chunked: bool
    expects_continue: bool  # the client waits for `100 Continue` before it sends the body


def admit(head: bytes) -> Head | None:
    """Check a request's head (the bytes before its blank line). Raises ApiError for a head the rules refuse, returns
    None for one that is not even shaped like a request (gunicorn answers it), else what framing its body has."""
    if head.startswith(b"\r\n"):
        head = head[2:]
    request_line, *lines = head.split(b"\r\n")
    parts = request_line.split(b" ", 2)
    version = VERSION.fullmatch(parts[-1])
    fields = [_field(line) for line in lines]
    if len(parts) != 3 or version is None or None in fields:
        return None
    method, target = parts[0], parts[1]
    major, minor = int(version[1]), int(version[2])
    if major != 1:
        raise ApiError(
            505,
            "HTTP version not supported",
            [detail(None, f"this server speaks HTTP/1.1 and HTTP/1.0, not HTTP/{major}.{minor}")],
        )
    if len(target) > TARGET_MAX:
        raise refusal(*URI_TOO_LONG)
    _check_sizes(fields)
    _check_host([value for name, value in fields if name == b"HOST"], minor)
    if method == b"CONNECT" and not target.startswith(b"/"):
        raise ApiError(400, "bad request", [detail(None, "CONNECT is not served here: this server is no proxy")])
    if sum(name == b"CONTENT-TYPE" for name, _ in fields) > 1:
        raise ApiError(400, "bad request", [detail("Content-Type", "send one Content-Type header")])
    content_length, chunked = body_framing(fields, minor)
    expects = any(name == b"EXPECT" and value.lower() == b"100-continue" for name, value in fields)
    return Head(content_length, chunked, expects_continue=expects and minor >= 1)


def body_framing(fields: list[tuple[bytes, bytes]], minor: int) -> tuple[int | None, bool]:
    """(Content-Length, chunked) of a request, by RFC 9112 §6: a body is framed by exactly one Content-Length of
    digits, or by Transfer-Encoding ending with chunked (HTTP/1.1 only), never both. chunked is the only coding
    this server implements."""
    lengths = [value for name, value in fields if name == b"CONTENT-LENGTH"]
    encodings = [value for name, value in fields if name == b"TRANSFER-ENCODING"]
    codings = [coding.strip(b" \t").lower() for value in encodings for coding in value.split(b",")]
    if codings:
        if codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
            raise _framing_error(400, "Transfer-Encoding", "the last transfer coding must be chunked, and no other")
        if lengths:
            raise _framing_error(400, "Content-Length", "send Content-Length or Transfer-Encoding, not both")
        if minor < 1:
            raise _framing_error(400, "Transfer-Encoding", "Transfer-Encoding needs HTTP/1.1")
        if len(codings) > 1:
            raise _framing_error(501, "Transfer-Encoding", "chunked is the only transfer coding this server implements")
        return None, True
    if not lengths:
        return None, False
    if len(lengths) > 1 or not lengths[0].isdigit():
        raise _framing_error(400, "Content-Length", "send one Content-Length, a number of bytes")
    return int(lengths[0]), False


def _framing_error(status: int, field: str, message: str) -> ApiError:
    error = "transfer coding not implemented" if status == 501 else "invalid message framing"
    return ApiError(status, error, [detail(field, message)])


def _field(line: bytes) -> tuple[bytes, bytes] | None:
    name, colon, value = line.partition(b":")
    if not colon or not TOKEN.fullmatch(name):
        return None
    return name.upper(), value.strip(b" \t")


def _check_sizes(fields: list[tuple[bytes, bytes]]) -> None:
    # Each header counts as `name: value` and its CRLF, however many blanks the client put around the value.
    sizes = [len(name) + len(value) + 4 for name, value in fields]
    if len(fields) > HEADER_COUNT_MAX or max(sizes, default=0) > HEADER_MAX or sum(sizes) > HEADERS_MAX:
        raise refusal(*HEADERS_TOO_LARGE)


def _check_host(values: list[bytes], minor: int) -> None:
    if len(values) > 1:
        raise _host_error(f"send one Host header, not {len(values)}")
    if not values:
        if minor >= 1:
            raise _host_error("an HTTP/1.1 request must have a Host header")
        return
    if not _valid_host(values[0].decode("latin-1")):
        raise _host_error(HOST_RULE)


def _valid_host(value: str) -> bool:
    match = HOST.fullmatch(value)
    if match is None:
        return False
    literal = match["literal"]
    if literal is None:
        return True
    if "%" in literal:  # a zone id (fe80::1%25eth0, RFC 6874) means nothing to another host
        return False
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return IP_FUTURE.fullmatch(literal) is not None
    return True


def _host_error(message: str) -> ApiError:
    return ApiError(400, "invalid Host header", [detail("Host", message)])
