"""The fuzz suite: Schemathesis, driven by each service's OpenAPI document, against both live services on their real
databases (the system of e2e/conftest.py, as the end-to-end test runs it). Every check Schemathesis has, in all its
phases (examples, coverage, fuzzing, stateful), a bounded number of examples per operation and a fixed seed, so a run
repeats and stays within a minute or two. It must end with no failure, no server error, no answer that breaks the
document and no crash, and it prints its figures.

A service whose document declares the bearer scheme (docs/api.md § Authentication) is fuzzed twice: with the key of a
caller that may write, and without a key, where every protected operation must answer 401 and no public one may. The
key never shows in a log of the system nor in what Schemathesis reports.

    FUZZ_EXAMPLES=200 FUZZ_SEED=7 python -m pytest e2e/test_fuzz.py    a longer or a different run
"""

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from calls import create_task, needs_requests_key
from system import ROOT, answers_health

FUZZ_DIR = Path(__file__).with_name("fuzz")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 100)  # per operation, in each generating phase
SEED = int(os.environ.get("FUZZ_SEED") or 20261129)
DOCUMENTS = {name: ROOT / "services" / name / "openapi.json" for name in ("requests", "tasks")}
# Without a key, valid input is refused (401), and so is a method a path does not serve: those two checks expect
# otherwise. refused_without_a_key (fuzz_hooks.py) checks the 401s instead.
CHECKS_WITHOUT_KEY = ["positive_data_acceptance", "unsupported_method"]
# The key, from the environment (never on a command line): as the bearer scheme, which Schemathesis also leaves out
# to see a 401; and on the public paths' operations too, because a method such a path does not serve needs a key to
# get its 405 (without one: 401).
KEY_CONFIG = """
[auth.openapi.bearer]
bearer = "${FUZZ_API_KEY}"

[[operations]]
include-path-regex = '^/(health|openapi\\.json)$'
headers = { Authorization = "Bearer ${FUZZ_API_KEY}" }
"""


def needs_keys(service: str) -> bool:
    """Whether the service's document declares the bearer scheme of docs/api.md § Authentication."""
    document = json.loads(DOCUMENTS[service].read_text())
    return "bearer" in document.get("components", {}).get("securitySchemes", {})


def runs() -> list:
    """Each service with a key, and without one where it needs keys; requests depends on tasks accepting its key."""
    found = []
    for service in ("requests", "tasks"):
        marks = [needs_requests_key] if service == "requests" else []
        found.append(pytest.param(service, True, marks=marks, id=f"{service}-with-a-key"))
        if needs_keys(service):
            found.append(pytest.param(service, False, marks=marks, id=f"{service}-without-a-key"))
    return found


def run_schemathesis(
    document: Path, base_url: str, report: Path, env: dict, excluded: list[str]
) -> subprocess.CompletedProcess:
    command = [
        str(SCHEMATHESIS),
        f"--config-file={report.with_name('schemathesis.toml')}",
        "--no-color",
        "run",
        str(document),
        f"--url={base_url}",
        "--checks=all",
        *([f"--exclude-checks={','.join(excluded)}"] if excluded else []),
        f"--max-examples={EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",  # one at a time: the figures then read plainly, and two cores serve two services
        "--report=ndjson",
        f"--report-ndjson-path={report}",
    ]
    # In the report's folder: Schemathesis keeps a cache (.schemathesis/) in its working directory.
    return subprocess.run(command, env=env, cwd=report.parent, capture_output=True, text=True, timeout=540, check=False)


def figures(report: Path) -> dict:
    """What the run did, from Schemathesis' own event log: test cases per operation and phase, statuses answered,
    check results, and crashes (a case whose call raised instead of getting an answer)."""
    cases: dict[str, Counter] = defaultdict(Counter)
    statuses: Counter = Counter()
    checks: dict[str, Counter] = defaultdict(Counter)
    crashes = 0
    for line in report.read_text().splitlines():
        event = json.loads(line)
        if "ScenarioFinished" not in event:
            crashes += "NonFatalError" in event or "FatalError" in event
            continue
        scenario = event["ScenarioFinished"]
        recorder = scenario["recorder"]
        for case_id, case in recorder.get("cases", {}).items():
            value = case["value"]
            operation = f"{value['method']} {value['path']}"
            interaction = recorder.get("interactions", {}).get(case_id)
            if interaction is None or interaction.get("response") is None:
                crashes += case_id in recorder.get("interactions", {})
                continue
            cases[operation][scenario["phase"]] += 1
            statuses[interaction["response"]["status_code"]] += 1
            for check in recorder.get("checks", {}).get(case_id, []):
                checks[check["name"]][check["status"]] += 1
    return {"cases": cases, "statuses": statuses, "checks": checks, "crashes": crashes}


def table(service: str, found: dict) -> str:
    phases = ["examples", "coverage", "fuzzing", "stateful"]
    lines = [f"\n== fuzz: {service} (seed {SEED}, at most {EXAMPLES} examples per operation and phase)"]
    lines.append(f"{'operation':<30}" + "".join(f"{phase:>10}" for phase in phases) + f"{'total':>8}")
    for operation, by_phase in sorted(found["cases"].items()):
        row = "".join(f"{by_phase[phase]:>10}" for phase in phases)
        lines.append(f"{operation:<30}{row}{sum(by_phase.values()):>8}")
    total = sum(sum(by_phase.values()) for by_phase in found["cases"].values())
    lines.append(f"test cases: {total}; answers by status: {dict(sorted(found['statuses'].items()))}")
    failed = sum(counts["failure"] for counts in found["checks"].values())
    run = sum(sum(counts.values()) for counts in found["checks"].values())
    lines.append(f"checks run: {run}, failed: {failed}; crashes: {found['crashes']}")
    for name, counts in sorted(found["checks"].items()):
        lines.append(f"  {name:<32} {counts['success']:>6} passed {counts['failure']:>4} failed")
    return "\n".join(lines)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("service", "with_key"), runs())
def test_the_service_holds_under_its_own_document(system, service, with_key, tmp_path, capsys):
    document = DOCUMENTS[service]
    base_url = system.requests_url if service == "requests" else system.tasks_url
    key = system.tasks_key
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "PYTHONPATH": str(FUZZ_DIR),
        "FUZZ_TASK_ID": create_task(system, "A task for the fuzzer"),
    }
    config = (FUZZ_DIR / "schemathesis.toml").read_text()
    if needs_keys(service) and with_key:
        config += KEY_CONFIG
        env["FUZZ_API_KEY"] = key
    if not with_key:
        env["FUZZ_WITHOUT_KEY"] = "1"
    (tmp_path / "schemathesis.toml").write_text(config)
    report = tmp_path / "events.ndjson"

    done = run_schemathesis(document, base_url, report, env, [] if with_key else CHECKS_WITHOUT_KEY)
    output = done.stdout[-20000:] + done.stderr[-5000:]
    assert report.exists(), output
    assert key not in done.stdout + done.stderr + report.read_text(), "Schemathesis reported the key"

    found = figures(report)
    with capsys.disabled():
        print(table(f"{service}, {'with a key' if with_key else 'without a key'}", found))
    assert done.returncode == 0, output
    assert found["statuses"], "no test case got an answer"
    assert not [status for status in found["statuses"] if status >= 500], output
    assert found["checks"]["response_schema_conformance"]["failure"] == 0, output
    assert sum(counts["failure"] for counts in found["checks"].values()) == 0, output
    assert found["crashes"] == 0, output
    if not with_key:
        assert found["checks"]["refused_without_a_key"]["success"] > 0, "refused_without_a_key never ran"
        assert found["statuses"][401] > 0, found["statuses"]
    elif needs_keys(service):
        assert found["checks"]["the_key_is_taken"]["success"] > 0, "the_key_is_taken never ran"
    assert answers_health(base_url), f"the {service} service no longer answers /health after the run"
    for log in sorted(system.logs_dir.iterdir()):
        assert key not in log.read_text(errors="replace"), f"{log} holds the key"
