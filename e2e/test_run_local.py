"""scripts/run-local.sh as a new user meets it: a line for each step while it builds and starts the system, the URLs
once both services answer, a clean stop on Ctrl-C (during the build too), and what to install when something is
missing."""

import contextlib
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from checkout import fresh_checkout
from system import ROOT, free_port

STEP_LINES = [
    r"run-local: (the tasks service is built \(services/tasks/dist is newer than its sources\)"
    r"|building the tasks service \(TypeScript: 5 to 20 s, only after its sources change\))",
    r"run-local: starting PostgreSQL",
    r"run-local: starting FerretDB",
    r"run-local: starting the Papertrail and Logsene stand-ins",
    r"run-local: starting the tasks service on (?P<tasks>http://127\.0\.0\.1:\d+) \(Node 24\)",
    r"run-local: starting the requests service on (?P<requests>http://127\.0\.0\.1:\d+) \(gunicorn\)",
    r"run-local: ready in \d+ s",
]


class RunLocal:
    """scripts/run-local.sh of `checkout` on free ports, in its own session, its output read line by line. close()
    stops it as Ctrl-C does (so it stops the servers it started) and deletes the logs it kept."""

    def __init__(self, checkout: Path):
        env = os.environ | {"TASKS_PORT": str(free_port()), "REQUESTS_PORT": str(free_port())}
        self.process = subprocess.Popen(
            [str(checkout / "scripts" / "run-local.sh")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        self.lines: list[str] = []
        self._unread: queue.Queue[str | None] = queue.Queue()  # None: its output ended
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with self.process.stdout:
            for line in self.process.stdout:
                self._unread.put(line.rstrip("\n"))
        self._unread.put(None)

    def read_until(self, last: str, timeout: float = 60) -> list[str]:
        """The lines so far, up to and including the first that starts with `last`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._unread.get(timeout=max(0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {last!r} after {timeout} s:\n" + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"run-local.sh exited before {last!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if line.startswith(last):
                return list(self.lines)

    def ctrl_c(self) -> int:
        """SIGINT to its process group, as Ctrl-C in a terminal; returns its exit code once it has stopped."""
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=60)
        while (line := self._unread.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.ctrl_c()
            finally:
                if self.process.poll() is None:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        for line in self.lines:
            if kept := re.fullmatch(r"stopped; the logs stay in (/\S+)/logs/", line):
                shutil.rmtree(kept[1])


def answers(url: str) -> int:
    with urllib.request.urlopen(f"{url}/health", timeout=5) as response:  # noqa: S310 - loopback
        return response.status


def tasks(url: str, key: str | None) -> int:
    """The status of GET /tasks with `Authorization: Bearer <key>`, or with no Authorization."""
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/tasks", headers=headers), timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def processes_under(folder: Path) -> dict[int, str]:
    """The command lines of the processes whose working directory is inside `folder`, by process id."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(folder):
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def test_it_names_each_step_then_serves_until_ctrl_c():
    run = RunLocal(ROOT)
    try:
        lines = run.read_until("run-local: ready in")
        steps = [line for line in lines if not line.startswith("run-local:   still ")]  # a slow machine's reminders
        assert len(steps) == len(STEP_LINES), "\n".join(lines)
        matches = [re.fullmatch(pattern, line) for pattern, line in zip(STEP_LINES, steps, strict=True)]
        assert all(matches), "\n".join(lines)
        tasks_url, requests_url = matches[4]["tasks"], matches[5]["requests"]
        assert (answers(tasks_url), answers(requests_url)) == (200, 200)
        served = run.read_until("Ctrl-C stops everything.")[len(lines) :]
        assert served[:3] == [
            "",
            f"tasks:    {tasks_url}",
            f"requests: {requests_url}   (its TASKS_URL is {tasks_url})",
        ]
        # The key it names, as the line after it calls the tasks service with it; and only with it.
        key_line = r"key: +(/\S+/keys/local\.key) +\(a throwaway key of the caller local, which may write\)"
        key_file = re.fullmatch(key_line, served[3])
        assert key_file, served[3]
        assert served[4] == f'          curl -H "Authorization: Bearer $(cat {key_file[1]})" {tasks_url}/tasks'
        key = Path(key_file[1]).read_text()
        assert (tasks(tasks_url, key), tasks(tasks_url, None)) == (200, 401)

        assert run.ctrl_c() == 0
        assert run.lines[-2] == "stopping ..."
        assert re.fullmatch(r"stopped; the logs stay in /\S+/logs/", run.lines[-1])
    finally:
        run.close()


def test_ctrl_c_while_the_tasks_service_builds_stops_the_build_too(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")  # no dist/: the tasks service must be built
    (checkout / ".cache").symlink_to(ROOT / ".cache")
    (checkout / "services" / "tasks" / "node_modules").symlink_to(ROOT / "services" / "tasks" / "node_modules")
    run = RunLocal(checkout)
    try:
        building = run.read_until("run-local: building the tasks service")[-1]
        assert building.endswith("(TypeScript: 5 to 20 s, only after its sources change)")
        deadline = time.monotonic() + 10
        while not any("tsc" in command for command in processes_under(checkout).values()):  # Ctrl-C while it compiles
            assert time.monotonic() < deadline, "the TypeScript compiler did not start"
            time.sleep(0.05)

        assert run.ctrl_c() == 0
        assert run.lines[-2] == "stopping ..."
        assert re.fullmatch(r"stopped; the logs stay in /\S+/logs/", run.lines[-1])
        # A second for SIGTERM to land; left alone, the compiler would run on for seconds.
        deadline = time.monotonic() + 1
        while processes_under(checkout) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_under(checkout) == {}, "the build outlived Ctrl-C"
    finally:
        run.close()
        for pid in processes_under(checkout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_fresh_checkout_is_told_what_is_missing_and_what_installs_it(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")

    nothing = subprocess.run([checkout / "scripts" / "run-local.sh"], capture_output=True, text=True, check=False)
    assert (nothing.returncode, nothing.stdout) == (1, "")
    assert nothing.stderr == (
        "run-local: missing: the requests service's Python packages (.cache/venv); run scripts/install.sh local\n"
    )

    (checkout / ".cache").mkdir()
    (checkout / ".cache" / "venv").symlink_to(ROOT / ".cache" / "venv")
    only_python = subprocess.run([checkout / "scripts" / "run-local.sh"], capture_output=True, text=True, check=False)
    assert (only_python.returncode, only_python.stdout) == (1, "")
    assert only_python.stderr == (
        "run-local: missing: Node 24 (.cache/node24/bin/node), the tasks service's npm packages"
        " (services/tasks/node_modules), FerretDB (.cache/bin/ferretdb); run scripts/install.sh local\n"
    )
