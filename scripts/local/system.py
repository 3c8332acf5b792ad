"""The whole system on loopback from the host toolchains, wired as in AWS: PostgreSQL and FerretDB (scripts/db), the
Papertrail and Logsene stand-ins (scripts/receivers), the tasks service (node) with its callers (scripts/local/
callers.sh: a throwaway key each) and the requests service (gunicorn), whose TASKS_URL points at the tasks service.

One implementation for two users: scripts/run-local.sh runs this file, which serves until Ctrl-C; the end-to-end test
(e2e/) imports LocalSystem and also stops and restarts the tasks service. Every process it starts gets its own process
group, so a Ctrl-C in the terminal reaches only this program, which then stops them all in reverse order.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
TASKS_DIR = ROOT / "services" / "tasks"
REQUESTS_DIR = ROOT / "services" / "requests"
GUNICORN = ROOT / ".cache" / "venv" / "bin" / "gunicorn"
# The Node the tasks image ships, from scripts/install.sh: the tasks service runs on it here too.
NODE = ROOT / ".cache" / "node24" / "bin" / "node"
FERRETDB = Path(os.environ.get("FERRETDB_BIN") or ROOT / ".cache" / "bin" / "ferretdb")  # as scripts/db/ferretdb.sh
TASKS_ENTRY = TASKS_DIR / "dist" / "src" / "server.js"
CALLERS_SCRIPT = ROOT / "scripts" / "local" / "callers.sh"
# Not a secret: the local receiver files each document under this index, as Logsene does under a real token.
LOGSENE_TOKEN = "local-logsene-token"  # noqa: S105
START_TIMEOUT = 30  # seconds for one component to become ready
STOP_GRACE = 10  # seconds between SIGTERM and SIGKILL, as `docker stop` allows
STILL_RUNNING_EVERY = 10  # seconds between the "still ..." lines of a step that takes long


class SetupError(Exception):
    """Something the system needs is missing or did not start; the message says what and what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_installed(postgres: bool = True, ferretdb: bool = True) -> None:
    """Fail with one message naming everything missing that `scripts/install.sh local` installs. `postgres` and
    `ferretdb`: whether the system starts its own servers."""
    needed = [
        (GUNICORN, "the requests service's Python packages"),
        (NODE, "Node 24"),
        (TASKS_DIR / "node_modules", "the tasks service's npm packages"),
    ]
    if ferretdb:
        needed.append((FERRETDB, "FerretDB"))
    missing = [
        f"{what} ({path.relative_to(ROOT) if path.is_relative_to(ROOT) else path})"
        for path, what in needed
        if not path.exists()
    ]
    # Where scripts/db/postgres.sh looks for the server.
    if postgres and not any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        missing.append("PostgreSQL's server (Debian's postgresql)")
    if shutil.which("npm") is None:
        missing.append("npm (Node.js 20 or newer with npm)")
    if missing:
        raise SetupError(f"missing: {', '.join(missing)}; run scripts/install.sh local")


def tasks_build_is_current() -> bool:
    """Whether the tasks service's dist/ is newer than its sources."""
    sources = [*TASKS_DIR.glob("src/**/*.ts"), *TASKS_DIR.glob("tsconfig*.json"), TASKS_DIR / "package-lock.json"]
    return TASKS_ENTRY.exists() and TASKS_ENTRY.stat().st_mtime >= max(source.stat().st_mtime for source in sources)


def build_tasks() -> Path:
    """Compile the tasks service unless its build is current; return the entry point."""
    if not tasks_build_is_current():
        run(["npm", "run", "--silent", "build"], cwd=TASKS_DIR)
    return TASKS_ENTRY


def run(command: list[str], cwd: Path = ROOT) -> str:
    """Run a short command to completion and return its stdout; raise SetupError with its output when it fails."""
    # Its own session: a server it leaves running in the background (FerretDB) must not get the terminal's Ctrl-C.
    with subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate()
        except BaseException:  # Ctrl-C: stop all of it (a build's compiler too), not just the command itself
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            raise
    if process.returncode != 0:
        raise SetupError(f"{' '.join(command)} failed:\n{stdout}{stderr}".rstrip())
    return stdout.strip()


def with_database(mongodb_uri: str, name: str) -> str:
    """The same MongoDB URI with `name` as its database."""
    return urlsplit(mongodb_uri)._replace(path=f"/{name}").geturl()


def inherited_environment() -> dict[str, str]:
    # Only what the toolchains need: the services see exactly the variables set here, never a stray one of the caller's.
    return {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}


class Process:
    """A long-running child in its own process group, its stdout and stderr appended to `log`."""

    def __init__(self, name: str, command: list[str], log: Path, cwd: Path = ROOT, env: dict[str, str] | None = None):
        self.name, self.log = name, log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches only the program that started it
            )

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM to the group (gunicorn's workers too), SIGKILL after STOP_GRACE seconds."""
        if self.running():
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait()
        self._signal_group(signal.SIGKILL)  # whatever of its group outlived the leader

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)

    def wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if not self.running():
                raise SetupError(f"{self.name} exited with code {self.popen.returncode} before {what}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise SetupError(f"{self.name} was not {what} after {START_TIMEOUT} s\n{self.tail()}")
            time.sleep(0.1)

    def tail(self, lines: int = 20) -> str:
        # Without the lines about GET /health: the readiness polls would fill the tail and hide the cause.
        text = [line for line in self.log.read_text(errors="replace").splitlines() if "/health" not in line]
        return f"last lines of {self.log}:\n" + "\n".join(f"  {line}" for line in text[-lines:])


def answers_health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 - our own loopback URL
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False  # not listening yet, or 503 while its database connection is not up


class LocalSystem:
    """Both services with their databases and log receivers. Call start(), and stop() in a `finally`: stop() also
    cleans up after a start that failed halfway.

    database_url / mongodb_uri: use these servers instead of starting throwaway ones (the tasks service gets the
    database `tasks` on the MongoDB server). tasks_port / requests_port: 0 picks a free port. report: called with a
    line for each step of start(), and every STILL_RUNNING_EVERY seconds while one takes long.
    """

    def __init__(
        self,
        work_dir: Path,
        tasks_port: int = 0,
        requests_port: int = 0,
        database_url: str | None = None,
        mongodb_uri: str | None = None,
        report: Callable[[str], None] | None = None,
    ):
        self.work_dir = work_dir
        self.report = report
        self.logs_dir = work_dir / "logs"
        self.tasks_port = tasks_port or free_port()
        self.requests_port = requests_port or free_port()
        self.tasks_url = f"http://127.0.0.1:{self.tasks_port}"
        self.requests_url = f"http://127.0.0.1:{self.requests_port}"
        self.database_url = database_url
        self.mongodb_uri = mongodb_uri
        self.papertrail_file = self.logs_dir / "papertrail.jsonl"  # what the syslog receiver got from requests
        self.logsene_file = self.logs_dir / "logsene.jsonl"  # what the bulk receiver got from tasks
        # The tasks service's callers (API_KEYS_FILE) and their throwaway keys, deleted when the system stops.
        self.keys_dir = work_dir / "keys"
        self.callers_file = self.keys_dir / "callers.json"
        self.tasks_key_file = self.keys_dir / "local.key"  # the caller `local`, which may write
        self.requests_key_file = self.keys_dir / "requests.key"  # the caller `requests`, which may only read
        self.tasks_entry = TASKS_ENTRY
        self.tasks: Process | None = None
        self.requests: Process | None = None
        self.receivers: list[Process] = []
        self._teardown: list[Callable[[], None]] = []  # run newest first

    def start(self) -> None:
        """Start everything in dependency order; each service is up when its GET /health answers 200."""
        require_installed(postgres=self.database_url is None, ferretdb=self.mongodb_uri is None)
        for port, name in ((self.tasks_port, "tasks"), (self.requests_port, "requests")):
            if port_in_use(port):
                raise SetupError(f"port {port}, meant for the {name} service, is already in use")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if tasks_build_is_current():
            self._report("the tasks service is built (services/tasks/dist is newer than its sources)")
        else:
            with self._step("building the tasks service", "TypeScript: 5 to 20 s, only after its sources change"):
                self.tasks_entry = build_tasks()
        if self.database_url is None:
            with self._step("starting PostgreSQL"):
                self.database_url = self._start_database("postgres")
        if self.mongodb_uri is None:
            with self._step("starting FerretDB"):
                self.mongodb_uri = self._start_database("ferretdb")
        self.papertrail_port, self.logsene_port = free_port(), free_port()
        # Papertrail over TLS, as in AWS: the receiver's throwaway CA is the one the requests service trusts.
        self.papertrail_tls_port, self.papertrail_ca = free_port(), self.logs_dir / "papertrail-ca.pem"
        tls = ("--tls-port", str(self.papertrail_tls_port), "--ca-out", str(self.papertrail_ca))
        with self._step("starting the Papertrail and Logsene stand-ins"):
            self._start_receiver("syslog", self.papertrail_port, self.papertrail_file, tls)
            self._start_receiver("bulk", self.logsene_port, self.logsene_file)
        self._teardown.append(lambda: shutil.rmtree(self.keys_dir, ignore_errors=True))
        run([str(CALLERS_SCRIPT), str(self.callers_file), str(self.keys_dir)])
        self._teardown.append(self.stop_tasks)
        with self._step(f"starting the tasks service on {self.tasks_url}", "Node 24"):
            self.start_tasks()
        with self._step(f"starting the requests service on {self.requests_url}", "gunicorn"):
            self._start_requests()

    def stop(self) -> None:
        """Stop everything started so far, newest first (requests, tasks, receivers, databases); never raises."""
        while self._teardown:
            step = self._teardown.pop()
            try:
                step()
            except Exception as error:  # report it and go on stopping the rest
                print(f"local system: while stopping: {error}", file=sys.stderr)

    def _report(self, line: str) -> None:
        if self.report is not None:
            self.report(line)

    @contextlib.contextmanager
    def _step(self, doing: str, hint: str = ""):
        """Report a step of start() (`doing`, and `hint` in parentheses), and every STILL_RUNNING_EVERY seconds
        that it is still running."""
        self._report(f"{doing} ({hint})" if hint else doing)
        started, finished = time.monotonic(), threading.Event()

        def remind() -> None:
            while not finished.wait(STILL_RUNNING_EVERY):
                self._report(f"  still {doing} after {time.monotonic() - started:.0f} s")

        reminder = threading.Thread(target=remind, daemon=True)
        reminder.start()
        try:
            yield
        finally:
            finished.set()
            reminder.join()

    @property
    def tasks_key(self) -> str:
        """The key of the caller `local`, which may write: Authorization: Bearer <key>."""
        return self.tasks_key_file.read_text().strip()

    def processes(self) -> list[Process]:
        return [p for p in (*self.receivers, self.tasks, self.requests) if p is not None]

    def start_tasks(self) -> None:
        env = inherited_environment() | {
            "PORT": str(self.tasks_port),
            "HOST": "127.0.0.1",  # loopback only: the address it prints, and nothing the network reaches
            "MONGODB_URI": with_database(self.mongodb_uri, "tasks"),
            "LOG_LEVEL": "info",
            "LOGSENE_TOKEN": LOGSENE_TOKEN,
            "LOGSENE_URL": f"http://127.0.0.1:{self.logsene_port}",
            "API_KEYS_FILE": str(self.callers_file),
        }
        self.tasks = Process("tasks", [str(NODE), str(self.tasks_entry)], self.logs_dir / "tasks.log", TASKS_DIR, env)
        self.tasks.wait_until(lambda: answers_health(self.tasks_url), "healthy")

    def stop_tasks(self) -> None:
        """SIGTERM: the service finishes its requests and flushes its last logs to the Logsene receiver."""
        if self.tasks is not None:
            self.tasks.stop()

    def _start_requests(self) -> None:
        env = inherited_environment() | {
            "PORT": str(self.requests_port),
            "DATABASE_URL": self.database_url,
            "TASKS_URL": self.tasks_url,
            # The key it calls the tasks service with (docs/api.md § Authentication), once it reads one.
            "TASKS_API_KEY_FILE": str(self.requests_key_file),
            "LOG_LEVEL": "info",
            "PAPERTRAIL_DESTINATION": f"127.0.0.1:{self.papertrail_tls_port}",
            "SSL_CERT_FILE": str(self.papertrail_ca),
        }
        log = self.logs_dir / "requests.log"
        self.requests = Process("requests", [str(GUNICORN), "--config", "gunicorn.conf.py"], log, REQUESTS_DIR, env)
        self._teardown.append(self.requests.stop)
        self.requests.wait_until(lambda: answers_health(self.requests_url), "healthy")

    def _start_database(self, kind: str) -> str:
        """A throwaway server through scripts/db/<kind>.sh; its data is deleted when the system stops."""
        directory = self.work_dir / kind
        script = str(ROOT / "scripts" / "db" / f"{kind}.sh")

        def stop() -> None:
            run([script, "stop", str(directory)])
            shutil.rmtree(directory, ignore_errors=True)

        self._teardown.append(stop)
        return run([script, "start", str(directory), str(free_port())])

    def _start_receiver(self, kind: str, port: int, out: Path, options: tuple[str, ...] = ()) -> None:
        script = ROOT / "scripts" / "receivers" / f"{kind}_receiver.py"
        command = [sys.executable, str(script), "--port", str(port), "--out", str(out), *options]
        receiver = Process(f"{kind} receiver", command, self.logs_dir / f"{kind}-receiver.log")
        self.receivers.append(receiver)
        self._teardown.append(receiver.stop)
        receiver.wait_until(lambda: "listening:" in receiver.log.read_text(), "listening")


def serve() -> int:
    """scripts/run-local.sh: start the system on the usual ports, print where it is, and run until Ctrl-C."""
    work_dir = Path(tempfile.mkdtemp(prefix="run-local-"))
    system = LocalSystem(
        work_dir,
        tasks_port=int(os.environ.get("TASKS_PORT") or 8080),
        requests_port=int(os.environ.get("REQUESTS_PORT") or 8000),
        report=lambda line: print(f"run-local: {line}", flush=True),
    )
    # Ctrl-C, SIGTERM and a closed terminal all stop the system; SIGINT is set too because a shell starts background
    # jobs with it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    code = 0
    try:
        started = time.monotonic()
        system.start()
        print(
            f"run-local: ready in {time.monotonic() - started:.0f} s\n"
            f"\ntasks:    {system.tasks_url}\n"
            f"requests: {system.requests_url}   (its TASKS_URL is {system.tasks_url})\n"
            f"key:      {system.tasks_key_file}   (a throwaway key of the caller local, which may write)\n"
            f'          curl -H "Authorization: Bearer $(cat {system.tasks_key_file})" {system.tasks_url}/tasks\n'
            f"logs:     {system.logs_dir}/\n"
            "          tasks.log, requests.log: each service's stdout and stderr\n"
            f"          {system.logsene_file.name}: what tasks shipped to Logsene (in batches, every 20 s)\n"
            f"          {system.papertrail_file.name}: what requests shipped to Papertrail (over TLS)\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while all(process.running() for process in system.processes()):
            time.sleep(0.5)
        stopped = next(p for p in system.processes() if not p.running())
        print(f"{stopped.name} exited with code {stopped.popen.returncode}\n{stopped.tail()}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        pass
    except SetupError as error:
        print(f"run-local: {error}", file=sys.stderr)
        code = 1
    finally:
        # A second Ctrl-C must not cut the stop short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if system.logs_dir.exists():
            print("\nstopping ...", flush=True)
            system.stop()
            print(f"stopped; the logs stay in {system.logs_dir}/", flush=True)
        else:
            shutil.rmtree(work_dir)  # nothing started, nothing to keep
    return code


if __name__ == "__main__":
    sys.exit(serve())
