"""scripts/install.sh as a new user meets it: every missing prerequisite named in one message before anything is
installed, a progress line while a step runs and its duration after, a failing step's log, and a second run that skips
every step and says what is ready. The expected versions come from where they are decided: package.json, the tasks
image's Dockerfile, and each Go module's own go.mod (the oldest Go that builds it)."""

import json
import os
import re
import subprocess
from pathlib import Path

from checkout import fresh_checkout, path_without
from system import ROOT

INSTALL_SH = (ROOT / "scripts" / "install.sh").read_text()
PACKAGE = json.loads((ROOT / "package.json").read_text())


def pinned(name: str) -> str:
    return re.search(rf"^{name}=(\S+)", INSTALL_SH, re.MULTILINE)[1]


FERRETDB_MODULE = f"github.com/FerretDB/FerretDB@{pinned('FERRETDB_VERSION')}"
ACTIONLINT_MODULE = f"github.com/rhysd/actionlint@{pinned('ACTIONLINT_VERSION')}"
CADDY_VERSION = "v" + re.search(r'"caddy:([\d.]+)-alpine@', (ROOT / "components/host/bootstrap.ts").read_text())[1]
CADDY_MODULE = f"github.com/caddyserver/caddy/v2@{CADDY_VERSION}"
PEBBLE_MODULE = f"github.com/letsencrypt/pebble/v2@{pinned('PEBBLE_VERSION')}"
PULUMI_MODULE = f"github.com/pulumi/pulumi/pkg/v3@v{PACKAGE['dependencies']['@pulumi/pulumi']}"
FERRETDB = f"FerretDB {pinned('FERRETDB_VERSION')}"
ACTIONLINT = f"actionlint {pinned('ACTIONLINT_VERSION')}"
CADDY = f"Caddy {CADDY_VERSION}"
PEBBLE = f"Pebble {pinned('PEBBLE_VERSION')}"
PULUMI_CLI = f"the Pulumi CLI v{PACKAGE['dependencies']['@pulumi/pulumi']}"
# cosign is built from CI's own module, whose go.mod pins the release and the Go it needs.
COSIGN_GO_MOD = (ROOT / ".github/tools/cosign/go.mod").read_text()
COSIGN = "cosign " + re.search(r"^\s*github\.com/sigstore/cosign/v\d+ (v[\d.]+)", COSIGN_GO_MOD, re.MULTILINE)[1]
COSIGN_GO = re.search(r"^go (\S+)$", COSIGN_GO_MOD, re.MULTILINE)[1]
NODE24 = "Node " + re.search(r"^FROM node:([\d.]+)-", (ROOT / "services/tasks/Dockerfile").read_text(), re.MULTILINE)[1]
NODE_MIN = re.fullmatch(r">=(\d+)", PACKAGE["engines"]["node"])[1]

HEADER = "install: nothing was installed; first install these prerequisites:"
NODE_LINE = f"Node.js {NODE_MIN} or newer with npm (22 or newer recommended){{found}}, for {NODE24}, npm packages: https://nodejs.org/en/download"
PYTHON_LINE = (
    "Python 3.11 or newer with venv and its headers{found}, for {users}:"
    " on Debian or Ubuntu, apt-get install python3 python3-venv python3-dev"
)
APT_LINE = "apt-get, for the Debian packages {packages}: Debian or Ubuntu (elsewhere, install those packages yourself)"
LOCAL_PACKAGES = "postgresql libpq-dev gcc"
# Root needs no sudo; anyone else without sudo on PATH gets this line too.
SUDO_LINES = [] if os.geteuid() == 0 else ["root or sudo, for apt-get"]


def oldest_go(*modules: str) -> str:
    """The newest of the modules' `go` lines: the oldest Go that builds them all."""
    versions = [
        subprocess.run(
            ["go", "list", "-m", "-f", "{{.GoVersion}}", module], capture_output=True, text=True, check=True
        ).stdout.strip()
        for module in modules
    ]
    return max(versions, key=lambda version: [int(part) for part in version.split(".")])


def install(checkout: Path, *args: str, path: str | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {"PATH": path or os.environ["PATH"]} | env
    return subprocess.run(
        [str(checkout / "scripts" / "install.sh"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )


def prerequisites(*lines: str) -> list[str]:
    return [HEADER, *(f"  - {line}" for line in lines)]


def test_a_fresh_checkout_without_go_node_python_or_apt_gets_each_named_and_nothing_installed(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")
    path = path_without(tmp_path / "bin", r"go|node|npm|npx|python[\d.]*|dpkg-query|apt-get|tar|flock|sudo")

    done = install(checkout, path=path)

    go = max(
        oldest_go(FERRETDB_MODULE, ACTIONLINT_MODULE, CADDY_MODULE, PEBBLE_MODULE, PULUMI_MODULE),
        COSIGN_GO,
        key=lambda version: [int(part) for part in version.split(".")],
    )
    ci_packages = (
        "cloud-init shellcheck docker.io docker-registry busybox-static openssl iproute2 iptables conntrack util-linux"
    )
    assert done.stderr.splitlines() == prerequisites(
        f"Go {go} or newer, for {FERRETDB}, {ACTIONLINT}, {CADDY}, {PEBBLE}, {COSIGN}, {PULUMI_CLI}: https://go.dev/doc/install",
        NODE_LINE.format(found=""),
        PYTHON_LINE.format(found="", users=f"Python packages, {PULUMI_CLI}"),
        APT_LINE.format(packages=f"{LOCAL_PACKAGES} {ci_packages}"),
        *SUDO_LINES,
        f"tar, for {NODE24}: apt-get install tar",
        f"flock, for {PULUMI_CLI}: apt-get install util-linux",
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert not (checkout / ".cache").exists()


def test_the_local_install_asks_only_for_what_the_local_run_needs(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")
    path = path_without(tmp_path / "bin", r"go|node|npm|npx|python[\d.]*|dpkg-query|apt-get|tar|flock|sudo")

    done = install(checkout, "local", path=path)

    assert done.stderr.splitlines() == prerequisites(
        f"Go {oldest_go(FERRETDB_MODULE)} or newer, for {FERRETDB}: https://go.dev/doc/install",
        NODE_LINE.format(found=""),
        PYTHON_LINE.format(found="", users="Python packages"),
        APT_LINE.format(packages=LOCAL_PACKAGES),
        *SUDO_LINES,
        f"tar, for {NODE24}: apt-get install tar",
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert not (checkout / ".cache").exists()


def test_too_old_go_node_and_python_are_named_with_the_version_found(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")
    bin_dir = tmp_path / "bin"
    path = path_without(bin_dir, r"go|node|npm|npx|python[\d.]*|dpkg-query|apt-get|sudo")
    # Old versions, answering the only questions the installer asks them before it installs anything.
    stubs = {
        "go": 'case "$2" in GOVERSION) echo go1.22.0 ;; GOTOOLCHAIN) echo "${GOTOOLCHAIN:-local}" ;; *) exit 2 ;; esac',
        "node": "echo v18.19.0",
        "npm": "exit 0",
        "python3": "echo 3.10",
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)

    done = install(checkout, "local", path=path, GOTOOLCHAIN="local")

    later_lines = [
        NODE_LINE.format(found=" (found 18.19.0)"),
        PYTHON_LINE.format(found=" (found 3.10)", users="Python packages"),
        APT_LINE.format(packages=LOCAL_PACKAGES),
        *SUDO_LINES,
    ]
    go = oldest_go(FERRETDB_MODULE)
    assert done.stderr.splitlines() == prerequisites(
        f"Go {go} or newer (found 1.22.0), for {FERRETDB}: https://go.dev/doc/install", *later_lines
    )
    assert done.returncode == 1

    # A Go from 1.21 on fetches the toolchain a module asks for, unless GOTOOLCHAIN=local forbids it.
    done = install(checkout, "local", path=path, GOTOOLCHAIN="auto")
    assert done.stderr.splitlines() == prerequisites(*later_lines)
    assert not (checkout / ".cache").exists()


def test_a_step_shows_progress_while_it_runs_then_its_duration_and_a_rerun_skips_it(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")

    done = install(checkout, "node24", INSTALL_PROGRESS_SECONDS="1")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"== install: {NODE24}"
    progress = lines[1:-2]
    assert progress, "no progress line in a step of several seconds, at one line a second"
    assert all(re.fullmatch(r"    \d+ s(: .+)?", line) for line in progress), progress
    assert re.fullmatch(rf"install: {NODE24}: done in \d+ s", lines[-2])
    assert re.fullmatch(rf"install: ready: {NODE24} \(1 installed, 0 in place, \d+ s\)", lines[-1])
    node = checkout / ".cache" / "node24" / "bin" / "node"
    assert subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout == f"v{NODE24[5:]}\n"

    again = install(checkout, "node24")
    assert again.stdout.splitlines()[0] == f"install: {NODE24}: in place"
    assert re.fullmatch(
        rf"install: ready: {NODE24} \(0 installed, 1 in place, [01] s\)\n", again.stdout.splitlines(True)[1]
    )


def test_a_failing_step_shows_the_start_and_end_of_its_output_and_stops(tmp_path):
    checkout = fresh_checkout(tmp_path / "checkout")
    (checkout / "package-lock.json").write_text("{")  # npm ci in the root, the first of the npm folders, fails

    done = install(checkout, "npm")

    assert done.returncode != 0
    assert done.stdout.splitlines() == ["== install: npm packages", "    npm ci in ."]
    log = checkout / ".cache" / "logs" / "npm.log"
    error = done.stderr.splitlines()
    assert error[0] == (
        "install: npm packages failed: npm ci --no-audit --no-fund exited with 1; the start and end of its output"
        f" (all in {log}):"
    )
    # npm puts the cause first and its usage text after: both ends are shown, and nothing between.
    output = log.read_text().splitlines()[1:]  # after the run's header line
    assert len(output) > 30
    assert "npm error code EUSAGE" in output[:8]
    assert error[1:] == [f"    {line}" for line in output[:8]] + ["    ..."] + [f"    {line}" for line in output[-22:]]
    assert not (checkout / "services" / "tasks" / "node_modules").exists()  # the folders after it were left alone


def test_a_second_local_install_skips_every_step_and_says_what_is_ready():
    first = install(ROOT, "local")
    assert first.returncode == 0, first.stdout + first.stderr

    second = install(ROOT, "local")

    assert (second.returncode, second.stderr) == (0, "")
    *steps, ready = second.stdout.splitlines()
    assert steps == [
        "install: Debian packages: in place",
        f"install: {FERRETDB}: in place",
        f"install: {NODE24}: in place",
        "install: Python packages: in place",
        "install: npm packages: in place",
    ]
    assert re.fullmatch(
        r"install: ready for scripts/run-local.sh \(0 installed, 5 in place, [01] s\); the CI toolchain was skipped"
        r" \(scripts/install.sh installs it\)",
        ready,
    )
