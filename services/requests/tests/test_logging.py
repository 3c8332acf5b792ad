"""Logging: each request on stdout; to a syslog receiver (Papertrail's stand-in) over TLS (the default, with a
throwaway certificate authority made here) or UDP, with the app name; a receiver whose certificate is not trusted is
refused; and a Papertrail that refuses, hangs or stops reading never slows or breaks a request."""

import logging
import re
import socket
import ssl
import threading
import time

import pytest
import trustme
from support import UdpReceiver, free_port

# RFC 5424 as Papertrail reads it: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG; PRI 14 is facility user, info.
ACCESS_LINE = re.compile(
    r"<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ requests \d+ - - "
    r"INFO requests_service\.access: GET /health 200 \d+\.\dms caller=null"
)


class TlsReceiver:
    """Accepts TLS connections with a certificate of `authority` for `names`, and collects newline-framed lines.
    `drop_first` closes the first connection after one line, as a restarting Papertrail would; `read=False` completes
    the handshake and then never reads, as a Papertrail too slow to keep up would. `refused` counts handshakes that
    failed (the sender did not trust the certificate)."""

    def __init__(self, authority: trustme.CA, names=("127.0.0.1",), drop_first=False, read=True):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert(*names).configure_cert(self.context)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.destination = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.lines: list[tuple[int, str]] = []  # (connection number, line)
        self.drop_first, self.read = drop_first, read
        self.connections = 0
        self.refused = 0
        self.held: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.refused += 1
            raw.close()
            return
        self.connections += 1
        number = self.connections
        if not self.read:
            with self.lock:
                if not self.closed:
                    self.held.append(conn)
                    return
            conn.close()
            return
        buffer = b""
        with conn:
            while chunk := conn.recv(65536):
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                self.lines += [(number, line.decode()) for line in complete]
                if complete and number == 1 and self.drop_first:
                    return

    def wait_for(self, pattern: str, timeout: float = 5.0, connection: int | None = None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for number, line in list(self.lines):
                if pattern in line and connection in (None, number):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line with {pattern!r} within {timeout} s; got {self.lines}")

    def close(self):
        self.server.close()
        with self.lock:
            self.closed = True
            for conn in self.held:
                conn.close()


@pytest.fixture
def authority(tmp_path, monkeypatch):
    """A throwaway CA that the service trusts, through the standard SSL_CERT_FILE (it replaces the system's store)."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return ca


def test_each_request_is_logged_to_stdout(make_app, capsys):
    client = make_app().test_client()
    client.get("/health")
    client.get("/requests/abc")
    out = capsys.readouterr().out
    health = r"INFO requests\[\d+\] requests_service\.access: GET /health 200 \d+\.\dms caller=null$"
    assert re.search(health, out, re.M)
    assert re.search(r"requests_service\.access: GET /requests/abc 400 \d+\.\dms caller=ci$", out, re.M)


def test_tls_is_the_default_and_gets_one_line_per_record(make_app, authority):
    receiver = TlsReceiver(authority)
    try:
        client = make_app(PAPERTRAIL_DESTINATION=receiver.destination).test_client()  # no PAPERTRAIL_PROTOCOL
        assert client.get("/health").status_code == 200
        assert ACCESS_LINE.fullmatch(receiver.wait_for("GET /health"))

        # A traceback stays one event: Papertrail would otherwise split it into unrelated lines.
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("requests_service.check").exception("failed")
        line = receiver.wait_for("requests_service.check")
        pattern = r"<11>1 \S+ \S+ requests \d+ - - ERROR requests_service\.check: failed \| Traceback.*"
        assert re.fullmatch(pattern, line)
        assert "ValueError: boom" in line
    finally:
        receiver.close()


def test_udp_only_when_asked_for(make_app):
    receiver = UdpReceiver()
    try:
        client = make_app(PAPERTRAIL_DESTINATION=receiver.destination, PAPERTRAIL_PROTOCOL="udp").test_client()
        assert client.get("/health").status_code == 200
        assert ACCESS_LINE.fullmatch(receiver.wait_for("GET /health"))
    finally:
        receiver.close()


def test_tls_reconnects_after_the_receiver_drops_the_connection(make_app, authority):
    receiver = TlsReceiver(authority, drop_first=True)
    try:
        client = make_app(PAPERTRAIL_DESTINATION=receiver.destination).test_client()
        client.get("/health")
        receiver.wait_for("GET /health", connection=1)
        deadline = time.monotonic() + 10
        while receiver.connections < 2 and time.monotonic() < deadline:
            assert client.get("/health").status_code == 200
            time.sleep(0.05)
        assert ACCESS_LINE.fullmatch(receiver.wait_for("GET /health", connection=2))
    finally:
        receiver.close()


@pytest.mark.parametrize(
    "certificate",
    ["from a CA the service does not trust", "for another host name"],
)
def test_a_certificate_that_does_not_verify_is_refused(make_app, authority, capfd, certificate):
    if certificate == "for another host name":
        receiver = TlsReceiver(authority, names=("logs.example.com",))
    else:
        receiver = TlsReceiver(trustme.CA())
    try:
        client = make_app(PAPERTRAIL_DESTINATION=receiver.destination).test_client()
        assert client.get("/health").status_code == 200
        deadline = time.monotonic() + 5
        while receiver.refused == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.refused >= 1
        assert receiver.connections == 0
        assert receiver.lines == []
        assert "cannot ship logs to Papertrail ([SSL: CERTIFICATE_VERIFY_FAILED]" in capfd.readouterr().err
    finally:
        receiver.close()


@pytest.fixture
def hung_listener():
    """A TCP port whose accept queue is full: connecting to it hangs, like a Papertrail that never answers."""
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):
        sock = socket.socket()
        sock.settimeout(0.3)
        try:
            sock.connect(("127.0.0.1", port))
        except TimeoutError:
            sock.close()
            break
        fillers.append(sock)
    else:
        pytest.fail("could not fill the accept queue")
    yield f"127.0.0.1:{port}"
    for sock in fillers:
        sock.close()
    server.close()


@pytest.fixture
def silent_listener():
    """A TCP port that accepts and then says nothing: the TLS handshake waits for an answer that never comes."""
    server = socket.create_server(("127.0.0.1", 0))
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


CASES = ["udp, nothing listening", "tls, refused", "tls, connect hangs", "tls, handshake hangs", "tls, stops reading"]


@pytest.mark.parametrize("case", CASES)
def test_an_unreachable_or_slow_papertrail_does_not_touch_requests(
    make_app, authority, hung_listener, silent_listener, case, capsys
):
    protocol = case.split(",")[0]
    receiver = TlsReceiver(authority, read=False) if case == "tls, stops reading" else None
    try:
        check_requests_stay_fast(make_app, case, protocol, receiver, hung_listener, silent_listener, capsys)
    finally:
        if receiver:
            receiver.close()


def check_requests_stay_fast(make_app, case, protocol, receiver, hung_listener, silent_listener, capsys):
    destination = {
        "tls, connect hangs": hung_listener,
        "tls, handshake hangs": silent_listener,
        "tls, stops reading": receiver.destination if receiver else None,
    }.get(case, f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    client = make_app(PAPERTRAIL_DESTINATION=destination, PAPERTRAIL_PROTOCOL=protocol).test_client()
    assert time.monotonic() - started < 1.0  # the start does not wait for Papertrail either
    if receiver:
        # 30 MB, more than the socket buffers hold: the sender's writes block until its send timeout, and logging
        # must not wait for them.
        started = time.monotonic()
        for i in range(3000):
            logging.getLogger("requests_service.flood").info("line %d %s", i, "x" * 10_000)
        assert time.monotonic() - started < 3.0, "logging waited for the sink"

    slowest = 0.0
    started = time.monotonic()
    for _ in range(40):
        t = time.monotonic()
        assert client.get("/health").status_code == 200
        assert client.get("/requests?limit=1").status_code == 200
        slowest = max(slowest, time.monotonic() - t)
    total = time.monotonic() - started

    assert slowest < 0.25, f"a request took {slowest:.3f} s"
    assert total < 3.0, f"80 requests took {total:.3f} s"
    assert "GET /health 200" in capsys.readouterr().out  # stdout still has every line
    if receiver:
        assert receiver.connections >= 1  # it really was connected, and stopped reading
