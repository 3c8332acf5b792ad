"""Test helpers: throwaway PostgreSQL clusters, a stand-in for the tasks service, and small HTTP and SQL helpers.

The stand-in plays the tasks service (the dependency); the service under test always runs its real code.
"""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException, HTTPResponse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
from contract import as_test_response, check_response
from werkzeug.test import TestResponse

from requests_service.config import variable_names

SERVICE_DIR = Path(__file__).resolve().parents[1]
POSTGRES_SH = SERVICE_DIR.parents[1] / "scripts" / "db" / "postgres.sh"
# The service's own variables, and the CA store a TLS test may point SSL_CERT_FILE at.
CONFIG_VARIABLES = (*variable_names(), "SSL_CERT_FILE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster run by scripts/db/postgres.sh; its data survives stop and start."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = None

    def start(self) -> str:
        out = subprocess.run(
            ["bash", str(POSTGRES_SH), "start", str(self.directory), str(self.port)],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.url = out.stdout.strip()
        return self.url

    def stop(self) -> None:
        subprocess.run(["bash", str(POSTGRES_SH), "stop", str(self.directory)], check=True, timeout=60)

    def processes(self) -> list[int]:
        """The postmaster and every process it started (this cluster's only: never another server's)."""
        postmaster = int((self.directory / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> list[int]:
        """Stop every process of the server (SIGSTOP): it keeps its sockets and answers nothing. Returns them."""
        frozen = self.processes()
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        return frozen

    @staticmethod
    def thaw(frozen: list[int]) -> None:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)


def row_count(database_url: str) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM requests")
        count = cur.fetchone()[0]
    conn.close()
    return count


def execute(database_url: str, sql: str) -> None:
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


class TasksStandIn:
    """A local HTTP server with the tasks service's contract for GET /tasks/{id} (docs/api.md).

    known ids answer 200 with a task, other well-formed ids 404, malformed ids 400. mode "error" answers 500 to
    everything; mode "slow" waits `delay` seconds before answering normally; mode "fixed" answers 200 with the text
    `answer` (a tasks service that is not one). `seen` records every path asked for,
    and `asked` is set on each request, so a test can act while a request is in flight.
    """

    def __init__(self):
        self.known: set[str] = set()
        self.mode = "normal"
        self.delay = 0.0
        self.answer = ""
        self.seen: list[str] = []
        self.asked = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                standin.seen.append(self.path)
                standin.asked.set()
                if standin.mode == "error":
                    return self._send(500, {"error": "internal error", "details": []})
                if standin.mode == "fixed":
                    return self._send(200, standin.answer)
                if standin.mode == "slow":
                    time.sleep(standin.delay)
                match = re.fullmatch(r"/tasks/([^/]*)", self.path)
                if not match:
                    return self._send(404, {"error": "not found", "details": []})
                task_id = match.group(1)
                if not re.fullmatch(r"[0-9a-f]{24}", task_id):
                    return self._send(400, {"error": "invalid id", "details": [{"field": "id", "message": "bad"}]})
                if task_id not in standin.known:
                    return self._send(404, {"error": "task not found", "details": []})
                now = "2026-01-01T00:00:00.000Z"
                task = {
                    "id": task_id,
                    "title": "t",
                    "description": "",
                    "done": False,
                    "created_at": now,
                    "updated_at": now,
                }
                return self._send(200, task)

            def _send(self, status, body):
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the slow mode's purpose)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        self.known.clear()
        self.mode = "normal"
        self.delay = 0.0
        self.answer = ""
        self.seen.clear()
        self.asked.clear()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def padded_body(task_id: str, size: int) -> bytes:
    """A valid create body of exactly `size` bytes: a JSON object followed by spaces (JSON allows them), so that any
    long enough prefix of it is a valid create too, and a body cut short would go unnoticed."""
    body = json.dumps({"task_id": task_id, "requester": "ana"}).encode()
    return body + b" " * (size - len(body))


def http(method: str, url: str, body=None, timeout: float = 15.0) -> tuple[int, dict | None]:
    """A real HTTP call (for gunicorn) with a JSON body: status and JSON answer, checked against openapi.json."""
    data = json.dumps(body).encode() if body is not None else None
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    response = send(parts.port, method, target, data, timeout=timeout)
    return response.status_code, response.get_json() if response.get_data() else None


def send(
    port: int, method: str, target: str, body=None, headers: dict | None = None, timeout: float = 15.0
) -> TestResponse:
    """One request to 127.0.0.1:port as given (body: bytes, or an iterable of chunks to send chunked), its answer
    checked against openapi.json and returned as a werkzeug TestResponse."""
    headers = {"Content-Type": "application/json"} if headers is None else headers
    conn = HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        chunked = body is not None and not isinstance(body, bytes)
        conn.request(method, target, body=body, headers=headers, encode_chunked=chunked)
        answer = conn.getresponse()
        response = as_test_response(method, target, answer.status, answer.getheaders(), answer.read())
    finally:
        conn.close()
    check_response(response)
    return response


def send_raw(port: int, data: bytes, method: str, target: str, timeout: float = 15.0) -> TestResponse:
    """Bytes that are not a well-formed request, straight onto a socket; the answer checked and returned."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = HTTPResponse(sock, method=method)
        answer.begin()
        response = as_test_response(method, target, answer.status, answer.getheaders(), answer.read())
    check_response(response)
    return response


@dataclass
class Exchange:
    """What came back on one connection: the answers, the bytes as sent, and whether the server closed it."""

    answers: list[TestResponse]
    raw: bytes
    closed: bool


class _Received(io.BytesIO):
    """Bytes a server sent, in the shape http.client reads answers from (one after another: never closed)."""

    def makefile(self, mode):
        return self

    def close(self):
        pass


def exchange(port: int, data: bytes, requests=(("GET", "/health"),), timeout: float = 5.0) -> Exchange:
    """Send `data` as it is onto a new connection, then read until the server closes it or `timeout` seconds pass.
    The answers are parsed in order, one per (method, target) of `requests` at most, and each is checked against
    openapi.json."""
    received, closed = b"", False
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                received += chunk
        except TimeoutError:
            pass
        except ConnectionResetError:
            closed = True
    source = _Received(received)
    answers = []
    for method, target in requests:
        if source.tell() == len(received):
            break
        answer = HTTPResponse(source, method=method)
        answer.begin()
        response = as_test_response(method, target, answer.status, answer.getheaders(), answer.read())
        check_response(response)
        answers.append(response)
    return Exchange(answers, received, closed)


def service_env(**variables: str) -> dict:
    """The environment for a gunicorn subprocess: this one's, minus the service's own variables, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.update(variables)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def start_gunicorn(env: dict, log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=SERVICE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_healthy(base_url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode} before it was healthy")
        try:
            if http("GET", f"{base_url}/health", timeout=2)[0] == 200:
                return
        except (OSError, HTTPException):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url}/health did not answer 200 within {timeout} s")
