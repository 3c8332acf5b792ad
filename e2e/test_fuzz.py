"""The fuzz suite: Schemathesis, driven by each service's OpenAPI document, against both live services on their real
databases (the system of e2e/conftest.py, as the end-to-end test runs it). Every check Schemathesis has, in all its
phases (examples, coverage, fuzzing, stateful), a bounded number of examples per operation and a fixed seed, so a run
repeats and stays within a minute or two. It must end with no failure, no server error, no answer that breaks the
document and no crash, and it prints its figures.

    FUZZ_EXAMPLES=200 FUZZ_SEED=7 python -m pytest e2e/test_fuzz.py    a longer or a different run
"""

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from calls import create_task
from system import ROOT, answers_health

FUZZ_DIR = Path(__file__).with_name("fuzz")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 100)  # per operation, in each generating phase
SEED = int(os.environ.get("FUZZ_SEED") or 20261129)
DOCUMENTS = {name: ROOT / "services" / name / "openapi.json" for name in ("requests", "tasks")}


def run_schemathesis(document: Path, base_url: str, report: Path, env: dict) -> subprocess.CompletedProcess:
    command = [
        str(SCHEMATHESIS),
        f"--config-file={FUZZ_DIR / 'schemathesis.toml'}",
        "--no-color",
        "run",
        str(document),
        f"--url={base_url}",
        "--checks=all",
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
@pytest.mark.parametrize("service", ["requests", "tasks"])
def test_the_service_holds_under_its_own_document(system, service, tmp_path, capsys):
    document = DOCUMENTS[service]
    if not document.exists():
        pytest.skip(f"{document.relative_to(ROOT)} does not exist yet: the tasks service has no document to fuzz with")
    base_url = system.requests_url if service == "requests" else system.tasks_url
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "PYTHONPATH": str(FUZZ_DIR),
        "FUZZ_TASK_ID": create_task(system, "A task for the fuzzer"),
    }
    report = tmp_path / "events.ndjson"

    done = run_schemathesis(document, base_url, report, env)
    output = done.stdout[-20000:] + done.stderr[-5000:]
    assert report.exists(), output

    found = figures(report)
    with capsys.disabled():
        print(table(service, found))
    assert done.returncode == 0, output
    assert found["statuses"], "no test case got an answer"
    assert not [status for status in found["statuses"] if status >= 500], output
    assert found["checks"]["response_schema_conformance"]["failure"] == 0, output
    assert sum(counts["failure"] for counts in found["checks"].values()) == 0, output
    assert found["crashes"] == 0, output
    assert answers_health(base_url), f"the {service} service no longer answers /health after the run"
