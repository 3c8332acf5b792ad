"""Where a request ends (requests_service/incoming.py): the worker hands a request to a thread only once it is all
there, so each framing is fed here a byte at a time and must be complete at its last byte, not one before."""

import pytest

from requests_service.incoming import Incoming

HEAD = b"POST /requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
BODY_MAX = 65536  # docs/api.md


def fed_bytewise(data: bytes) -> tuple[Incoming, int]:
    """Feed `data` a byte at a time: the request, and how many bytes it took to be complete (-1: never)."""
    incoming = Incoming()
    for count in range(1, len(data) + 1):
        incoming.feed(data[count - 1 : count])
        if incoming.complete:
            return incoming, count
    return incoming, -1


def chunked(*chunks: bytes, trailers: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailers + b"\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\r\nGET /health HTTP/1.0\r\n\r\n",
        HEAD + b"Content-Length: 2\r\n\r\n{}",
        HEAD + b"Content-Length: 0\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"{", b"}"),
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"{}\r\n\r\n", trailers=b"X-T: 1\r\nX-U: 2\r\n"),
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(),
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"2;ext=1\r\n{}\r\n0\r\n\r\n",
    ],
    ids=[
        "no body",
        "an empty line first",
        "Content-Length",
        "empty body",
        "chunked",
        "trailers",
        "no chunk",
        "extension",
    ],
)
def test_a_request_is_complete_at_its_last_byte(request_bytes):
    incoming, took = fed_bytewise(request_bytes + b"GET /next HTTP/1.1\r\n")
    assert took == len(request_bytes)
    assert incoming.refusal is None
    assert not incoming.cut


def test_bytes_after_it_are_kept_for_the_next_request():
    incoming = Incoming(HEAD + b"Content-Length: 2\r\n\r\n{}GET /health HTTP/1.1\r\n")
    assert incoming.complete
    assert incoming.data.endswith(b"GET /health HTTP/1.1\r\n")


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"Content-Length: %d\r\n\r\n" % (BODY_MAX + 1),
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % (BODY_MAX * 2) + b"x" * (BODY_MAX + 1),
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % BODY_MAX + b"x" * BODY_MAX + b"\r\n1\r\nx",
    ],
    ids=["Content-Length over the limit", "one chunk over it", "chunks over it"],
)
def test_a_body_over_the_limit_is_handed_over_cut_as_soon_as_it_is(request_bytes):
    assert not Incoming(request_bytes[:-1]).complete
    incoming = Incoming(request_bytes)
    assert incoming.complete
    assert incoming.cut


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n+1\r\n",
        b"GET /health\r\n\r\n",
        b"GET /health HTTP/1.1\r\nno colon\r\n\r\n",
    ],
    ids=["chunk size not hex", "chunk size with a sign", "no version", "header without colon"],
)
def test_what_gunicorn_refuses_is_handed_over_at_once(request_bytes):
    # gunicorn's parser refuses these from the bytes already here; nothing more is waited for.
    incoming = Incoming(request_bytes)
    assert incoming.complete
    assert incoming.refusal is None


def test_a_refused_head_is_not_read_further():
    incoming = Incoming(b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n")
    assert incoming.complete
    assert incoming.refusal.status == 505


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [(b"GET /" + b"x" * 40_000, 414), (b"GET / HTTP/1.1\r\nX: " + b"x" * 40_000, 431)],
    ids=["a request line without end", "headers without end"],
)
def test_a_head_that_does_not_end_is_refused(request_bytes, status):
    incoming = Incoming(request_bytes)
    assert incoming.refusal.status == status


def test_it_waits_for_the_body_only_once_the_head_is_admitted():
    incoming = Incoming(HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert not incoming.complete
    assert incoming.waits_for_body
    assert incoming.head.expects_continue
    incoming.feed(b"{")
    assert not incoming.waits_for_body
