"""Logging: every line to stdout, and to Papertrail through syslog (over TLS unless UDP is asked for) when
PAPERTRAIL_DESTINATION is set.

Papertrail is reached through a queue drained by a background thread, so a slow or unreachable Papertrail never
slows or breaks a request: when the queue is full, records for Papertrail are dropped (stdout still has them). The
thread takes the records in batches, waking up a few times a second rather than once a record: each wake-up of a
thread costs the request threads the GIL, and under load that cost more than the shipping itself
(docs/performance.md).
"""

import collections
import contextlib
import logging
import logging.handlers
import math
import queue
import socket
import ssl
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, request

from .times import rfc3339

APP_NAME = "requests"
QUEUE_SIZE = 10_000
BATCH_WAIT = 0.05  # seconds the shipping thread waits, after a record wakes it, for the rest of its batch

_handlers: list[logging.Handler] = []  # what setup_logging installed on the root logger, so a rerun replaces it
_listener: logging.handlers.QueueListener | None = None  # a BatchingListener


class PapertrailHandler(logging.handlers.SysLogHandler):
    """SysLogHandler that speaks TLS (the default) or UDP and tolerates an unreachable Papertrail: it never raises
    at start, connects with a timeout, reconnects after a failure, and writes one RFC 5424 line per record.

    TLS verifies Papertrail's certificate and host name against the system's CA store (SSL_CERT_FILE replaces it,
    as for any OpenSSL program). Records are framed by a newline (RFC 6587's non-transparent framing), as Papertrail's
    own remote_syslog2 sends them over TLS; format() makes sure a record holds no newline of its own."""

    CONNECT_TIMEOUT = 3.0  # seconds, for the TCP connect, the TLS handshake and each send; only the queue thread waits
    RETRY_AFTER = 5.0  # seconds between connection attempts while Papertrail is unreachable
    REPORT_EVERY = 60.0  # seconds between two complaints on stderr
    append_nul = False  # Papertrail frames by newline, not NUL

    def __init__(self, host: str, port: int, protocol: str):
        self.destination = (host, port)
        self._retry_at = 0.0
        self._reported_at = -math.inf
        self._tls = ssl.create_default_context() if protocol == "tls" else None
        socktype = socket.SOCK_STREAM if self._tls else socket.SOCK_DGRAM
        # The base __init__ connects at once, in the caller's thread; connect on the first record instead, in the
        # queue's thread, so a hanging Papertrail cannot delay a worker's start either.
        self._deferred = True
        super().__init__((host, port), socktype=socktype)
        self._deferred = False
        self.setFormatter(SyslogFormatter())

    def createSocket(self):  # noqa: N802 - overrides SysLogHandler's name
        # The base class raises from __init__ when the host is unknown or refuses TCP, and connects without a
        # timeout; here a failure only postpones the next attempt, and the records meanwhile are dropped.
        self.unixsocket = False
        if self._deferred or time.monotonic() < self._retry_at:
            return
        host, port = self.destination
        try:
            if self._tls:
                self.socket = self._connect_tls(host, port)
            else:
                family, _, _, _, sockaddr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
                self.socket = socket.socket(family, socket.SOCK_DGRAM)
                self.address = sockaddr  # resolved once, not on every sendto
        except OSError as error:  # ssl.SSLError too: an untrusted certificate is refused like an unreachable host
            self._retry_at = time.monotonic() + self.RETRY_AFTER
            self._report(error)

    def _connect_tls(self, host: str, port: int) -> ssl.SSLSocket:
        raw = socket.create_connection((host, port), timeout=self.CONNECT_TIMEOUT)
        try:
            return self._tls.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise

    def format(self, record: logging.LogRecord) -> str:
        # One record, one line: Papertrail would split a traceback into unrelated events.
        line = super().format(record).replace("\r", "").replace("\n", " | ")
        return line + "\n" if self.socktype == socket.SOCK_STREAM else line

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - overrides Handler's name
        # A broken TCP connection is dropped so the next record reconnects; UDP sockets stay as they are.
        if self.socktype == socket.SOCK_STREAM and self.socket is not None:
            self.socket.close()
            self.socket = None
        if self.socket is not None or time.monotonic() >= self._retry_at:
            self._report(sys.exc_info()[1])

    def _report(self, error: BaseException | None) -> None:
        now = time.monotonic()
        if now - self._reported_at >= self.REPORT_EVERY:
            self._reported_at = now
            # Straight to stderr: logging this would feed the handler that is failing.
            print(f"{APP_NAME}: cannot ship logs to Papertrail ({error}); will retry", file=sys.stderr, flush=True)


class SyslogFormatter(logging.Formatter):
    """RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG (the handler adds <PRI>)."""

    def __init__(self):
        hostname = socket.gethostname() or "-"
        super().__init__(f"1 %(asctime)s {hostname} {APP_NAME} %(process)d - - %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record, datefmt=None):  # noqa: N802 - overrides Formatter's name
        return rfc3339(datetime.fromtimestamp(record.created, UTC))


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """QueueHandler that drops a record instead of failing when the queue is full."""

    dropped = 0

    def prepare(self, record):
        # A thread of this process takes the record and formats it: nothing to make picklable, nothing to format here.
        return record

    def enqueue(self, record):
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class BatchingListener(logging.handlers.QueueListener):
    """QueueListener whose thread wakes once a batch: after the record that woke it, it waits BATCH_WAIT for more and
    then handles all of them."""

    def __init__(self, records: queue.Queue, handler: logging.Handler):
        super().__init__(records, handler)
        self._batch: collections.deque = collections.deque()

    def dequeue(self, block):
        if not self._batch:
            self._batch.append(self.queue.get(block))
            time.sleep(BATCH_WAIT)
            with contextlib.suppress(queue.Empty):
                while True:
                    self._batch.append(self.queue.get_nowait())
        return self._batch.popleft()


def setup_logging(level: str, destination: tuple[str, int] | None, protocol: str) -> None:
    """Configure the root logger: stdout always, Papertrail when destination is set. Calling it again replaces
    what the previous call installed (each test builds its own app)."""
    global _listener
    shutdown_logging()
    root = logging.getLogger()
    root.setLevel(level)

    stdout = logging.StreamHandler(sys.stdout)
    stdout.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {APP_NAME}[%(process)d] %(name)s: %(message)s"))
    _handlers.append(stdout)

    if destination is not None:
        records: queue.Queue = queue.Queue(QUEUE_SIZE)
        _handlers.append(DroppingQueueHandler(records))
        _listener = BatchingListener(records, PapertrailHandler(*destination, protocol))
        _listener.start()

    for handler in _handlers:
        root.addHandler(handler)


def shutdown_logging(timeout: float = 2.0) -> None:
    """Remove the handlers setup_logging installed and flush Papertrail's queue, waiting at most timeout seconds:
    a stopping worker must not hang on an unreachable Papertrail."""
    global _listener
    root = logging.getLogger()
    for handler in _handlers:
        root.removeHandler(handler)
    _handlers.clear()
    if _listener is not None:
        listener, _listener = _listener, None
        thread = listener._thread  # QueueListener.stop() would join it with no time limit
        with contextlib.suppress(queue.Full):  # the thread is a daemon: an abandoned one dies with the process
            listener.enqueue_sentinel()
        if thread is not None:
            thread.join(timeout)
        for handler in listener.handlers:
            handler.close()


def init_app(app: Flask) -> None:
    """Set up logging from the app's config and log every request with method, path, status and duration."""
    setup_logging(app.config["LOG_LEVEL"], app.config["PAPERTRAIL_DESTINATION"], app.config["PAPERTRAIL_PROTOCOL"])
    access = logging.getLogger("requests_service.access")

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response):
        duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access.info("%s %s %s %.1fms", request.method, request.path, response.status_code, duration_ms)
        return response
