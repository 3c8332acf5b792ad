"""Logging: each request on stdout; to a syslog receiver (Papertrail's stand-in) over UDP or TCP with the app name;
and a Papertrail that refuses or hangs never slows or breaks a request."""

import logging
import re
import socket
import threading
import time

import pytest
from support import free_port

# RFC 5424 as Papertrail reads it: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG; PRI 14 is facility user, info.
ACCESS_LINE = re.compile(
    r"<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 \S+ requests \d+ - - "
    r"INFO requests_service\.access: GET /health 200 \d+\.\dms"
)


class UdpReceiver:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.destination = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def wait_for(self, pattern: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.sock.recv(65536).decode()
            except TimeoutError:
                continue
            if pattern in message:
                return message
        raise AssertionError(f"no datagram with {pattern!r} within {timeout} s")

    def close(self):
        self.sock.close()


class TcpReceiver:
    """Accepts connections and collects newline-framed lines; `drop_first` closes the first connection after one
    line, as a restarting Papertrail would."""

    def __init__(self, drop_first=False):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.destination = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.lines: list[tuple[int, str]] = []  # (connection number, line)
        self.drop_first = drop_first
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._read, args=(conn, self.connections), daemon=True).start()

    def _read(self, conn, number):
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


def test_each_request_is_logged_to_stdout(make_app, capsys):
    client = make_app().test_client()
    client.get("/health")
    client.get("/requests/abc")
    out = capsys.readouterr().out
    assert re.search(r"INFO requests\[\d+\] requests_service\.access: GET /health 200 \d+\.\dms", out)
    assert re.search(r"requests_service\.access: GET /requests/abc 400 \d+\.\dms", out)


def test_udp_receiver_gets_the_lines_with_the_app_name(make_app):
    receiver = UdpReceiver()
    try:
        client = make_app(PAPERTRAIL_DESTINATION=receiver.destination).test_client()  # UDP is the default
        assert client.get("/health").status_code == 200
        assert ACCESS_LINE.fullmatch(receiver.wait_for("GET /health"))
    finally:
        receiver.close()


def test_tcp_receiver_gets_one_line_per_record(make_app):
    receiver = TcpReceiver()
    try:
        client = make_app(PAPERTRAIL_DESTINATION=receiver.destination, PAPERTRAIL_PROTOCOL="tcp").test_client()
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


def test_tcp_reconnects_after_the_receiver_drops_the_connection(make_app):
    receiver = TcpReceiver(drop_first=True)
    try:
        client = make_app(PAPERTRAIL_DESTINATION=receiver.destination, PAPERTRAIL_PROTOCOL="tcp").test_client()
        client.get("/health")
        receiver.wait_for("GET /health", connection=1)
        deadline = time.monotonic() + 5
        while receiver.connections < 2 and time.monotonic() < deadline:
            assert client.get("/health").status_code == 200
            time.sleep(0.05)
        assert ACCESS_LINE.fullmatch(receiver.wait_for("GET /health", connection=2))
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


@pytest.mark.parametrize("case", ["udp, nothing listening", "tcp, refused", "tcp, connect hangs"])
def test_unreachable_papertrail_does_not_touch_requests(make_app, hung_listener, case, capsys):
    protocol = case.split(",")[0]
    destination = hung_listener if case == "tcp, connect hangs" else f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    client = make_app(PAPERTRAIL_DESTINATION=destination, PAPERTRAIL_PROTOCOL=protocol).test_client()
    assert time.monotonic() - started < 1.0  # the start does not wait for Papertrail either

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
