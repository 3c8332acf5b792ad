"""One request's bytes, gathered by the worker's event loop (worker.py) before a thread is given the request.

A thread takes a request only once all of it is here: the head, checked by http_rules.admit, and the body its
framing announces. A client that sends slowly then holds a buffer, not one of the few threads. This only finds where a
request ends; what gunicorn's parser would refuse (a bad chunk size line, say) is handed over as soon as it is seen,
and gunicorn refuses it then, without reading further.

A body over BODY_MAX bytes is not gathered whole: the first BODY_MAX + 1 bytes, enough for the app's 413, are handed
over and the request is marked `cut`, so that the connection closes after the answer instead of reading the rest.
"""

import re

from .errors import ApiError
from .http_rules import Head, admit
from .limits import BODY_MAX, HEADERS_TOO_LARGE, URI_TOO_LONG, refusal

# Bytes of head gathered at most without its blank line: well past every head the limits admit (a 4096-byte target,
# 16 KiB of headers), so a head this long is refused whatever it holds.
HEAD_MAX = 32 * 1024
# gunicorn's own bound on a chunk size line, and on a trailer section (its limit_request_field_size, 16 KiB here, is
# larger: these are reached only by requests gunicorn refuses anyway).
CHUNK_LINE_MAX = 8190
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+")


class Incoming:
    """The next request on a connection, as its bytes arrive: `complete` once a thread can take it, `refusal` (an
    ApiError) when its head is refused."""

    def __init__(self, data: bytes = b""):
        self.data = bytearray()
        self.head: Head | None = None
        self.refusal: ApiError | None = None
        self.complete = False
        self.cut = False
        self._body_start = 0
        self._chunk_at = 0  # where the next chunk size line starts
        self._chunked_size = 0  # body bytes in the chunks passed so far
        if data:
            self.feed(data)

    @property
    def started(self) -> bool:
        return bool(self.data)

    @property
    def waits_for_body(self) -> bool:
        """The head is in and admitted, and no byte of the body yet."""
        return self.head is not None and not self.complete and len(self.data) == self._body_start

    def feed(self, data: bytes) -> None:
        searched = max(0, len(self.data) - 3)
        self.data += data
        if not self._body_start:
            self._read_head(searched)
        if self._body_start and not self.complete:
            self._read_body()

    def _read_head(self, searched: int) -> None:
        end = self.data.find(b"\r\n\r\n", searched)
        if end < 0:
            if len(self.data) > HEAD_MAX:
                # No line end at all: the request line is what is too long.
                self._refuse(refusal(*(URI_TOO_LONG if b"\r\n" not in self.data else HEADERS_TOO_LARGE)))
            return
        self._body_start = self._chunk_at = end + 4
        try:
            self.head = admit(bytes(self.data[:end]))
        except ApiError as error:
            self._refuse(error)
            return
        if self.head is None:  # not shaped like a request: gunicorn refuses it without reading on
            self.complete = True

    def _read_body(self) -> None:
        if self.head.chunked:
            self._read_chunks()
            return
        length = self.head.content_length or 0
        if length > BODY_MAX:
            self.complete = self.cut = True
        else:
            self.complete = len(self.data) >= self._body_start + length

    def _read_chunks(self) -> None:
        """Step over whole chunks (RFC 9112 §7.1): size line, data, CRLF; the last chunk, size 0, then the trailers
        and a blank line."""
        data = self.data
        while True:
            line_end = data.find(b"\r\n", self._chunk_at)
            if line_end < 0:
                self.complete = len(data) - self._chunk_at > CHUNK_LINE_MAX
                return
            size_text = data[self._chunk_at : line_end].split(b";", 1)[0].rstrip(b" \t")
            if not CHUNK_SIZE.fullmatch(size_text):
                self.complete = True  # gunicorn refuses the size line
                return
            size = int(size_text, 16)
            data_start = line_end + 2
            if size == 0:
                end = data.find(b"\r\n", data_start)  # the first empty line after the last chunk ends the trailers
                while end > data_start and data[end - 2 : end] != b"\r\n":
                    end = data.find(b"\r\n", end + 2)
                self.complete = end >= 0 or len(data) - data_start > CHUNK_LINE_MAX
                return
            received = min(len(data) - data_start, size)
            if self._chunked_size + received > BODY_MAX:
                self.complete = self.cut = True
                return
            if len(data) < data_start + size + 2:
                return
            self._chunked_size += size
            self._chunk_at = data_start + size + 2

    def _refuse(self, error: ApiError) -> None:
        self.refusal = error
        self.complete = True
