"""gunicorn's gthread worker, changed so that slow clients hold no thread, and so that every answer is JSON.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives, and the thread then reads
the request from the socket until it is whole (gthread.ThreadWorker.handle: `next(conn.parser)`, then the app reads
the body): a few clients sending a byte a second take every thread. This worker gathers each request in its event
loop instead, without blocking (incoming.py), and gives a thread only a request that is all there: the thread's parser
reads those bytes, never the socket. So:

- a request must arrive whole within REQUEST_TIMEOUT of its first byte, or it gets a 408 and the connection closes;
  a connection with no request on its way closes after gunicorn's `keepalive` seconds;
- the head is checked against the HTTP rules (http_rules.py) as soon as it is in, and a refusal is answered from the
  loop, before any body is read;
- a connection is closed by the loop, which drains what the client still sends for up to LINGER_SECONDS (RFC 9112
  §9.6) so that the client reads its answer rather than a reset; gunicorn's close_graceful does that in the loop's own
  thread, blocking every other connection meanwhile;
- a thread writing an answer to a client that does not read gives up after SEND_TIMEOUT.

The requests gunicorn's parser refuses itself (a bad method token, a header name with "_") get the service's JSON
error body too, through util.write_error, which nothing else calls.
"""

import contextlib
import errno
import selectors
import socket
import time
from functools import partial
from http import HTTPStatus

from gunicorn import http, util
from gunicorn.http.unreader import Unreader
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from .errors import JSON_TYPE, ApiError, detail, error_json
from .incoming import Incoming

REQUEST_TIMEOUT = 10.0  # seconds from a request's first byte until all of it is in
SEND_TIMEOUT = 10.0  # seconds a thread waits for a client to take the next part of an answer
LINGER_SECONDS = 2.0  # seconds a closing connection is drained
LINGER_MAX = 16 * 1024 * 1024  # bytes drained at most from a closing connection
RECV_SIZE = 64 * 1024
SWEEP_EVERY = 0.25  # seconds between two looks for connections past their deadline
MESSAGE_MAX = 200  # characters of gunicorn's own description kept in its refusals (it may quote the request)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
TIMED_OUT = ApiError(
    408, "request timeout", [detail(None, f"a request must arrive whole within {REQUEST_TIMEOUT:g} s of its start")]
)


def error_answer(error: ApiError) -> bytes:
    """A whole HTTP answer carrying the service's JSON error, after which the connection closes."""
    body = error_json(error.error, error.details)
    head = (
        f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {JSON_TYPE}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """util.write_error's signature and job: answer and close, in JSON. gunicorn decides the status."""
    phrase = HTTPStatus(status_int).phrase
    error = ApiError(status_int, phrase.lower(), [detail(None, mesg[:MESSAGE_MAX] or phrase)])
    util.write_nonblock(sock, error_answer(error))


class RequestBytes(Unreader):
    """What the parser reads one request from: the bytes the loop gathered, and nothing after them."""

    def __init__(self, data: bytes):
        super().__init__()
        self.buf.write(data)

    def chunk(self, size_hint=None):
        return b""


class Connection(TConn):
    """A client's connection, with the request being gathered on it."""

    def __init__(self, cfg, sock, client, server):
        super().__init__(cfg, sock, client, server)
        self.parser = http.get_parser(cfg, sock, client)  # made here, so TConn.init keeps it; fed per request
        self.data_ready = True  # gunicorn's own wait for a first byte in the thread is the loop's job here
        self.incoming = Incoming()
        self.continue_sent = False
        self.lingering = False
        self.drained = 0
        self.deadline = 0.0


class RequestsWorker(ThreadWorker):
    def init_process(self):
        util.write_error = write_json_error  # in this worker process only; the master never answers requests
        self.waiting: set[Connection] = set()  # connections the loop reads: gathering a request, or lingering
        self.stop_by: float | None = None
        self.next_sweep = 0.0
        super().init_process()

    def accept(self, listener):
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.next_request(Connection(self.cfg, sock, client, listener.getsockname()), b"")

    def next_request(self, conn: Connection, data: bytes) -> None:
        """Gather the next request on conn, starting with the bytes already read past the previous one."""
        conn.incoming = Incoming()
        conn.continue_sent = False
        conn.deadline = time.monotonic() + self.cfg.keepalive
        self.wait_on(conn, self.on_readable)
        if data:
            self.received(conn, data)

    def on_readable(self, conn: Connection, sock) -> None:
        data = self.recv(conn)
        if data is None:
            return
        if not data:  # the client closed or reset the connection
            self.stop_waiting(conn)
            self.close(conn)
            return
        self.received(conn, data)

    def received(self, conn: Connection, data: bytes) -> None:
        incoming = conn.incoming
        if not incoming.started:
            conn.deadline = time.monotonic() + REQUEST_TIMEOUT
        incoming.feed(data)
        if incoming.refusal is not None:
            self.stop_waiting(conn)
            self.log.info("refused a request from %s: %s %s", conn.client[0], incoming.refusal.status, incoming.refusal)
            self.answer_and_close(conn, incoming.refusal)
        elif incoming.complete:
            self.stop_waiting(conn)
            conn.parser.unreader = RequestBytes(bytes(incoming.data))
            self.enqueue_req(conn)
        elif incoming.waits_for_body and incoming.head.expects_continue and not conn.continue_sent:
            conn.continue_sent = True
            self.send(conn, CONTINUE)

    def handle_request(self, req, conn):
        """In a thread, with the request parsed from the gathered bytes."""
        req.version = min(req.version, (1, 1))  # HTTP/1.2 to 1.9 are served, and answered, as HTTP/1.1
        if conn.incoming.cut:
            req.force_close()  # the rest of the body was never read, so no request can follow it
        # The loop sends `100 Continue` when it waits for a body; here the body is in, or is not to be read.
        req._expected_100_continue = False
        conn.sock.settimeout(SEND_TIMEOUT)
        return super().handle_request(req, conn)

    def finish_request(self, conn: Connection, fs):
        """Back in the loop, once a thread is done with the request: wait for the next one, or close."""
        try:
            keepalive = not fs.cancelled() and fs.result()
        except Exception:  # the thread failed: gunicorn's log says why
            keepalive = False
        try:
            conn.sock.setblocking(False)
        except OSError:  # the thread closed the socket
            keepalive = False
        if keepalive:
            self.next_request(conn, conn.parser.unreader.take_buffered())
        else:
            self.linger(conn)

    def answer_and_close(self, conn: Connection, error: ApiError) -> None:
        self.send(conn, error_answer(error))
        self.linger(conn)

    def linger(self, conn: Connection) -> None:
        """Close after draining what the client still sends, so that it reads its answer rather than a reset."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(conn)
            return
        conn.lingering = True
        conn.deadline = time.monotonic() + LINGER_SECONDS
        self.wait_on(conn, self.on_lingering)

    def on_lingering(self, conn: Connection, sock) -> None:
        data = self.recv(conn)
        if data is None:
            return
        conn.drained += len(data)
        if not data or conn.drained > LINGER_MAX:
            self.stop_waiting(conn)
            self.close(conn)

    def murder_keepalived(self, force=False):
        """Close what is past its deadline (everything when forced); gunicorn's loop calls this after every wait.
        A request that has started but not arrived whole gets its 408 first."""
        now = time.monotonic()
        if now < self.next_sweep and not force:
            return
        self.next_sweep = now + SWEEP_EVERY
        if not self.alive and self.stop_by is None:
            # Stopping: a connection with no request on its way is kept only briefly, as gunicorn does.
            self.stop_by = now + STOP_KEEPALIVE_LINGER
        for conn in [c for c in self.waiting if force or self.expired(c, now)]:
            self.stop_waiting(conn)
            if conn.incoming.started and not conn.lingering and not force:
                self.log.info("request from %s timed out", conn.client[0])
                self.answer_and_close(conn, TIMED_OUT)
            else:
                self.close(conn)

    def expired(self, conn: Connection, now: float) -> bool:
        idle = not conn.incoming.started and not conn.lingering
        deadline = min(conn.deadline, self.stop_by) if idle and self.stop_by is not None else conn.deadline
        return now >= deadline

    def wait_on(self, conn: Connection, callback) -> None:
        self.waiting.add(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(callback, conn))

    def stop_waiting(self, conn: Connection) -> None:
        self.waiting.discard(conn)
        with contextlib.suppress(KeyError, ValueError, OSError):  # not registered, or already closed
            self.poller.unregister(conn.sock)

    def recv(self, conn: Connection) -> bytes | None:
        """What the client sent, b"" when it has closed or reset the connection, None when nothing is there yet."""
        try:
            return conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""

    def send(self, conn: Connection, data: bytes) -> None:
        """Send without waiting: these answers are small, and a socket that cannot take them is dropped anyway."""
        with contextlib.suppress(OSError):
            conn.sock.send(data)

    def close(self, conn: Connection) -> None:
        self.nr_conns -= 1
        util.close(conn.sock)
