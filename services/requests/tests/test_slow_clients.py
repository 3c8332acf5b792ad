"""Slow clients cannot starve the service run alone (a real gunicorn, as the image runs it): clients that send a
request a byte a second hold no thread, are closed by the server with a 408 once their request has not arrived whole
within its timeout (docs/requests.md: 10 s from its first byte), and other clients are served meanwhile. The bound on
/health's answer is generous on purpose: it shows that the service answers at all, not how fast."""

import select
import socket
import threading
import time

from support import exchange

REQUEST_TIMEOUT = 10.0  # docs/requests.md
KEEPALIVE = 5.0  # docs/requests.md: a connection with no request on its way
SLACK = 3.0  # the server looks for expired connections every quarter second; the machine may be busy
ANSWERED_WITHIN = 5.0  # seconds for /health while the slow clients hold their connections: "it answers", not a speed
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


class SlowClient(threading.Thread):
    """Sends `start` at once, then `trickle` a byte a second until the server closes the connection; records when,
    and what the server answered."""

    def __init__(self, port: int, start: bytes, trickle: bytes):
        super().__init__(daemon=True)
        self.port, self.start_bytes, self.trickle = port, start, trickle
        self.closed_after: float | None = None
        self.received = b""

    def run(self):
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            started = time.monotonic()
            sock.sendall(self.start_bytes)
            for byte in self.trickle:
                if select.select([sock], [], [], 1.0)[0]:  # the server answered, or closed
                    break
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    break
            self.received = self._read_to_end(sock)
            self.closed_after = time.monotonic() - started

    @staticmethod
    def _read_to_end(sock) -> bytes:
        sock.settimeout(REQUEST_TIMEOUT + SLACK)
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def slow_clients_meanwhile(port: int, clients: list[SlowClient]) -> list[float]:
    """Start the slow clients, ask /health on fresh connections every second while they run, and wait for them to
    end: how long each /health took."""
    for client in clients:
        client.start()
    time.sleep(1.5)  # every slow client has sent its first bytes
    took = []
    while any(client.is_alive() for client in clients) and len(took) < 8:
        started = time.monotonic()
        answers = exchange(port, HEALTH, timeout=ANSWERED_WITHIN).answers
        assert answers, f"/health got no answer within {ANSWERED_WITHIN} s"
        assert answers[0].status_code == 200
        took.append(time.monotonic() - started)
        time.sleep(1.0)
    for client in clients:
        client.join(REQUEST_TIMEOUT + 2 * SLACK)
    return took


def assert_closed_with_408(clients: list[SlowClient]) -> None:
    for client in clients:
        assert client.closed_after is not None, "a slow client is still connected"
        assert client.closed_after <= REQUEST_TIMEOUT + SLACK, f"closed only after {client.closed_after:.1f} s"
        assert client.received.startswith(b"HTTP/1.1 408 "), client.received[:100]
        assert b'"error": "request timeout"' in client.received


def test_slow_headers_hold_no_thread_and_are_closed(server):
    # 20 clients, more than the 2 workers' 4 threads: each head would hold a thread until it ends.
    clients = [SlowClient(server, b"G", b"ET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100) for _ in range(20)]
    took = slow_clients_meanwhile(server, clients)
    assert len(took) >= 3, "the slow clients ended before /health was asked three times"
    assert_closed_with_408(clients)


def test_slow_bodies_hold_no_thread_and_are_closed(server):
    head = b"POST /requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    clients = [SlowClient(server, head, b" " * 200) for _ in range(10)]
    took = slow_clients_meanwhile(server, clients)
    assert len(took) >= 3, "the slow clients ended before /health was asked three times"
    assert_closed_with_408(clients)


def test_a_connection_with_no_request_is_closed_after_the_keepalive_time(server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        started = time.monotonic()
        sock.settimeout(KEEPALIVE + SLACK)
        assert sock.recv(1) == b""  # closed without an answer: there was no request to answer
        assert KEEPALIVE - 1 <= time.monotonic() - started <= KEEPALIVE + SLACK


def test_a_client_that_does_not_read_its_answers_is_dropped(server):
    # 2000 pipelined requests for the document (tens of KB each) on a connection whose client reads nothing: once the
    # socket buffers are full, the thread writing an answer waits, and gives up after its send timeout, so the client
    # finds far fewer than 2000 answers when it reads at last.
    send_timeout = 10.0  # docs/requests.md
    requests = 2000
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server))
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n" * requests)
        time.sleep(send_timeout + SLACK)
        [answer] = exchange(server, HEALTH, timeout=ANSWERED_WITHIN).answers  # the other clients are served
        assert answer.status_code == 200
        answered, tail = 0, b""
        sock.settimeout(SLACK)
        try:
            while chunk := sock.recv(1 << 20):
                received = tail + chunk
                answered += received.count(b"HTTP/1.1 200 ")
                tail = received[-12:]  # shorter than a status line: a match is never counted twice
        except (ConnectionResetError, TimeoutError):
            pass
    assert 0 < answered < requests
