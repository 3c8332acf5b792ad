"""compose.yaml, checked without a Docker engine: valid against the Compose specification's JSON schema, each service
given exactly the environment its own schema asks for (the files it reads made here as its one-shot services make
them), wired and ordered as in AWS, and every container with a health check. The last test breaks copies of the file
to show that each check catches its mistake."""

import functools
import json
import re
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from requests_service.config import SCHEMA, ConfigError, load_config, variable_names
from system import ROOT, build_tasks

COMPOSE_FILE = ROOT / "compose.yaml"
# The Compose specification's schema as check-jsonschema vendors it (`check-jsonschema --builtin-schema
# vendor.compose-spec` uses the same file).
COMPOSE_SCHEMA = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
TASKS_ENVIRONMENT_JS = Path(__file__).with_name("tasks_environment.mjs")
# The ports of the database images, which their images fix (the services' ports come from their own schemas).
IMAGE_PORTS = {"mongo": 27017, "postgres": 5432}


def read_service_schema(name: str, environment: dict[str, str]) -> dict:
    """What a service's own environment schema says: the variables it knows and requires, the problems it finds in
    `environment`, and the port it would then listen on."""
    if name == "requests":
        try:
            port, problems = load_config(environment)["PORT"], []
        except ConfigError as error:
            port, problems = None, error.problems
        return {
            "known": variable_names(),
            "required": [v.name for v in SCHEMA if v.default is None],
            "problems": problems,
            "port": port,
        }
    if name == "tasks":
        return _tasks_schema(json.dumps(environment, sort_keys=True))
    raise AssertionError(f"no schema known for the service {name}")


@functools.cache
def _tasks_schema(environment_json: str) -> dict:
    config_js = build_tasks().with_name("config.js")
    done = subprocess.run(
        ["node", str(TASKS_ENVIRONMENT_JS), str(config_js), environment_json],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def interpolate(value: str | None) -> str:
    """The value as compose gives it to the container when the user's environment sets nothing: `${NAME:-default}`
    and `${NAME-default}` become the default, `${NAME}` and `$NAME` empty, `$$` a dollar."""
    if value is None:  # `NAME:` with no value passes the user's variable through
        return ""
    pattern = r"\$\$|\$\{\w+(?::?-([^}]*))?\}|\$\w+"
    return re.sub(pattern, lambda m: "$" if m.group(0) == "$$" else (m.group(1) or ""), str(value))


def environment_of(service: dict) -> dict[str, str | None]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):  # the `- NAME=value` form
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    return raw


def app_services(compose: dict) -> list[str]:
    """The services built from this repository, whose environment schemas we can read."""
    return [name for name, service in compose["services"].items() if "build" in service]


def listening_port(compose: dict, name: str, project_dir: Path) -> int | None:
    if name in app_services(compose):
        return service_schema(compose, name, project_dir)["port"]
    return IMAGE_PORTS.get(compose["services"][name].get("image", "").split(":")[0])


def schema_problems(compose: dict, project_dir: Path) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]


def image_problems(compose: dict, project_dir: Path) -> list[str]:
    """Our services build from their Dockerfiles; every other image is pinned to a version tag."""
    problems = []
    for name, service in compose["services"].items():
        if name in app_services(compose):
            build = service["build"]
            context = build if isinstance(build, str) else build.get("context", ".")
            if (project_dir / context).resolve() != ROOT / "services" / name:
                problems.append(f"{name}: builds from {context}, not services/{name}")
        else:
            image = service.get("image", "")
            tag = image.rpartition(":")[2] if ":" in image else ""
            if not re.fullmatch(r"\d+(\.\d+)+(-[\w.]+)?", tag):
                problems.append(f"{name}: image {image!r} is not pinned to a version tag")
    return problems


def one_shot_services(compose: dict) -> list[str]:
    """The services, not built here, that fill a named volume another service reads (compose.yaml's `keys`): they run
    once, and finish."""
    services = compose["services"]
    return [
        name
        for name in services
        if name not in app_services(compose)
        and any(named_volumes(services[name]) & named_volumes(services[other]) for other in services if other != name)
    ]


def named_volumes(service: dict) -> set[str]:
    return {source for source, _ in _mounts(service) if not source.startswith(".")}


def _mounts(service: dict) -> list[tuple[str, str]]:
    """The service's volumes as (source, target): a named volume's name, or a path for a bind mount."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):  # the long syntax
            mounts.append((volume.get("source", ""), volume["target"]))
        else:
            source, target = volume.split(":")[:2]
            mounts.append((source, target))
    return mounts


def on_this_machine(service: dict, path: str, project_dir: Path, volumes_dir: Path) -> str:
    """Where `path`, as the service's container sees it, is here: in a bind-mounted file of the project, or in the
    folder of volumes_dir that stands in for a named volume. A path outside every mount stays as it is."""
    for source, target in _mounts(service):
        if path == target or path.startswith(target.rstrip("/") + "/"):
            host = project_dir / source if source.startswith(".") else volumes_dir / source
            return str(host) + path[len(target) :]
    return path


def service_schema(compose: dict, name: str, project_dir: Path) -> dict:
    """What the service's own schema (read_service_schema) makes of its environment in the file as its container gets
    it: the user's environment setting nothing, and each NAME_FILE read where the service's mounts put it, once the
    one-shot services have filled them."""
    service = compose["services"][name]
    volumes_dir, _ = filled_volumes(one_shot_json(compose), project_dir)
    environment = {k: interpolate(v) for k, v in environment_of(service).items()}
    for variable in [k for k in environment if k.endswith("_FILE")]:
        environment[variable] = on_this_machine(service, environment[variable], project_dir, volumes_dir)
    return read_service_schema(name, environment)


# Deleted when the tests end.
VOLUMES = tempfile.TemporaryDirectory(prefix="compose-volumes-")


def one_shot_json(compose: dict) -> str:
    """The one-shot services of the file, as JSON: files with the same ones fill their volumes alike."""
    return json.dumps({name: compose["services"][name] for name in one_shot_services(compose)}, sort_keys=True)


@functools.cache
def filled_volumes(one_shots_json: str, project_dir: Path) -> tuple[Path, tuple[str, ...]]:
    """A folder that stands in for the named volumes, filled by these one-shot services once (so that a service's
    environment, which names files in it, reads the same for every file that has them): the folder, and what failed."""
    volumes_dir = Path(tempfile.mkdtemp(dir=VOLUMES.name))
    return volumes_dir, tuple(run_one_shot_services(json.loads(one_shots_json), project_dir, volumes_dir))


def run_one_shot_services(one_shots: dict, project_dir: Path, volumes_dir: Path) -> list[str]:
    """Runs each one-shot service's command here (by name), its mounts mapped as on_this_machine says, as it fills the
    named volumes the others read; returns what failed."""
    problems = []
    for name, service in one_shots.items():
        for volume in named_volumes(service):
            (volumes_dir / volume).mkdir(exist_ok=True)
        command = [on_this_machine(service, str(arg), project_dir, volumes_dir) for arg in service.get("command", [])]
        done = subprocess.run(command, cwd=project_dir, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            problems.append(f"{name}: its command {service.get('command')} failed here: {done.stderr.strip()}")
    return problems


def environment_problems(compose: dict, project_dir: Path) -> list[str]:
    """The one-shot services run; each service sets every variable its schema requires (NAME or NAME_FILE for a
    secret), no variable it does not know, and values its schema accepts when the user's environment sets nothing (the
    optional log settings then stay off)."""
    problems = list(filled_volumes(one_shot_json(compose), project_dir)[1])
    for name in app_services(compose):
        given = environment_of(compose["services"][name])
        schema = service_schema(compose, name, project_dir)
        for variable in sorted(set(given) - set(schema["known"])):
            problems.append(f"{name}: sets {variable}, which the service does not read")
        for variable in sorted(set(schema["required"]) - set(given) - {v.removesuffix("_FILE") for v in given}):
            problems.append(f"{name}: does not set {variable}, which the service requires")
        problems += [f"{name}: its schema refuses: {problem}" for problem in schema["problems"]]
    return problems


def wiring_problems(compose: dict, project_dir: Path) -> list[str]:
    """Every URL pointing at another service names its port and waits for it to be healthy; PostgreSQL's credentials
    match; each service publishes the port it listens on (8080 and 8000, as in AWS)."""
    problems = []
    services = compose["services"]
    for name in app_services(compose):
        service = services[name]
        for variable, value in environment_of(service).items():
            url = urlsplit(interpolate(value))
            if url.hostname not in services:
                continue
            target = url.hostname
            if url.port != listening_port(compose, target, project_dir):
                problems.append(f"{name}: {variable} reaches {target} on port {url.port}, where it does not listen")
            if _depends_on(service).get(target, {}).get("condition") != "service_healthy":
                problems.append(f"{name}: uses {target} ({variable}) but does not wait until it is healthy")
            if target == "postgres":
                postgres = environment_of(services["postgres"])
                expected = [postgres.get(f"POSTGRES_{part}") for part in ("USER", "PASSWORD", "DB")]
                if [url.username, url.password, url.path.lstrip("/")] != expected:
                    problems.append(f"{name}: {variable}'s user, password or database differ from postgres' POSTGRES_*")
        published = [_container_port(mapping) for mapping in service.get("ports", [])]
        port = listening_port(compose, name, project_dir)
        if port not in published:
            problems.append(f"{name}: does not publish its port {port} (publishes {published})")
    tasks_url = interpolate(environment_of(services.get("requests", {})).get("TASKS_URL"))
    if urlsplit(tasks_url).hostname != "tasks":
        problems.append(f"requests: TASKS_URL {tasks_url!r} does not point at the tasks service")
    # A volume a one-shot service fills is read only once it has finished.
    for maker in one_shot_services(compose):
        for name, service in services.items():
            read = named_volumes(services[maker]) & named_volumes(service) if name != maker else set()
            if _depends_on(service).get(maker, {}).get("condition") != "service_completed_successfully":
                waits = "but does not wait until it has finished"
                problems += [f"{name}: reads {volume}, which {maker} fills, {waits}" for volume in sorted(read)]
    return problems


def _depends_on(service: dict) -> dict:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):  # the short syntax, which waits only for the start
        return {name: {"condition": "service_started"} for name in depends_on}
    return depends_on


def _container_port(mapping: str | int | dict) -> int | None:
    if isinstance(mapping, dict):  # the long syntax
        return int(mapping["target"])
    return int(str(mapping).split(":")[-1].split("/")[0])


def health_problems(compose: dict, project_dir: Path) -> list[str]:
    """Every container that keeps running has a health check: its own in the file, or, when the file sets only timings,
    its image's. A one-shot service is waited for until it has finished, not until it is healthy."""
    problems = []
    for name, service in compose["services"].items():
        if name in one_shot_services(compose):
            continue
        check = service.get("healthcheck") or {}
        if _disabled(check):
            problems.append(f"{name}: its health check is disabled")
        elif "test" not in check and not _image_has_healthcheck(project_dir, service.get("build")):
            problems.append(f"{name}: no health check in the file nor in its Dockerfile")
    return problems


def _disabled(check: dict) -> bool:
    return str(check.get("disable")).lower() == "true" or check.get("test") in (["NONE"], "NONE")


def _image_has_healthcheck(project_dir: Path, build: str | dict | None) -> bool:
    if build is None:
        return False
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    text = (project_dir / context / dockerfile).read_text().replace("\\\n", " ")
    return any(re.match(r"HEALTHCHECK\s.*\bCMD\b", line) for line in text.splitlines())


CHECKS = (schema_problems, image_problems, environment_problems, wiring_problems, health_problems)


def problems_of(compose_file: Path, project_dir: Path = ROOT) -> list[str]:
    """Every problem of the file; its relative paths resolve against project_dir (compose's --project-directory)."""
    compose = yaml.safe_load(compose_file.read_text())
    return [problem for check in CHECKS for problem in check(compose, project_dir)]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_compose_file(compose, check):
    assert check(compose, ROOT) == []


def test_the_services_are_the_two_of_this_repository_and_their_databases(compose):
    assert sorted(compose["services"]) == ["keys", "mongo", "postgres", "requests", "tasks"]
    assert one_shot_services(compose) == ["keys"]
    assert app_services(compose) == ["tasks", "requests"]
    assert interpolate(environment_of(compose["services"]["requests"])["TASKS_URL"]) == "http://tasks:8080"


# Each mistake, made in a copy of the file, and what the checks then say.
MISTAKES = [
    ("MONGODB_URI:", "MONGODB_URL:", "tasks: sets MONGODB_URL, which the service does not read"),
    ("MONGODB_URI:", "MONGODB_URL:", "tasks: does not set MONGODB_URI, which the service requires"),
    ("      PAPERTRAIL_DESTINATION:", "      PAPERTRAIL_DESTINATON:", "requests: sets PAPERTRAIL_DESTINATON"),
    ("      DATABASE_URL: postgresql://requests:requests@postgres:5432/requests\n", "", "does not set DATABASE_URL"),
    ("mongodb://mongo:27017/tasks", "mongodb//mongo:27017/tasks", "tasks: its schema refuses: MONGODB_URI"),
    ("TASKS_URL: http://tasks:8080", "TASKS_URL: http://tasks:8000", "TASKS_URL reaches tasks on port 8000"),
    ("TASKS_URL: http://tasks:8080", "TASKS_URL: http://task:8080", "does not point at the tasks service"),
    ("TASKS_URL: http://tasks:8080", "TASKS_URLS: http://tasks:8080", "requests: does not set TASKS_URL"),
    ("POSTGRES_PASSWORD: requests", "POSTGRES_PASSWORD: secret", "password or database differ"),
    (
        "      tasks:\n        condition: service_healthy",
        "      tasks:\n        condition: service_started",
        "requests: uses tasks (TASKS_URL) but does not wait until it is healthy",
    ),
    ('"8000:8000"', '"8000:8001"', "requests: does not publish its port 8000"),
    (
        "    healthcheck:\n      interval: 5s\n    depends_on:\n      mongo:",
        "    healthcheck:\n      disable: true\n    depends_on:\n      mongo:",
        "tasks: its health check is disabled",
    ),
    ('test: ["CMD", "mongosh"', 'disabled_test: ["CMD", "mongosh"', "mongo: no health check in the file"),
    ("image: mongo:8.0.17", "image: mongo:latest", "mongo: image 'mongo:latest' is not pinned"),
    ("build: services/requests", "build: services/tasks", "requests: builds from services/tasks"),
    ("API_KEYS_FILE: /run/callers/", "API_KEYS: /run/callers/", "tasks: its schema refuses: API_KEYS is not valid"),
    ("      API_KEYS_FILE: /run/callers/callers.json\n", "", "tasks: does not set API_KEYS, which the service"),
    ("API_KEYS_FILE: /run/callers/callers.json", "API_KEYS_FILE: /run/callers/keys.json", "API_KEYS_FILE names a file"),
    ("      - tasks-callers:/run/callers:ro\n", "", "tasks: its schema refuses: API_KEYS_FILE names a file that"),
    ("      - tasks-callers:/run/callers:ro\n", "      - local-keys:/run/callers:ro\n", "API_KEYS_FILE names a file"),
    ('"/callers/callers.json", "/keys"]', '"/callers/callers.json"]', "keys: its command"),
    (
        "      keys:\n        condition: service_completed_successfully",
        "      keys:\n        condition: service_started",
        "tasks: reads tasks-callers, which keys fills, but does not wait until it has finished",
    ),
    ("image: busybox:1.37.0", "image: busybox", "keys: image 'busybox' is not pinned"),
    ('ports:\n      - "8080', 'port:\n      - "8080', "services/tasks: Unevaluated properties are not allowed"),
]


@pytest.mark.parametrize(("original", "mistake", "expected"), MISTAKES, ids=[m[2] for m in MISTAKES])
def test_the_checks_catch_a_mistake_in_a_copy(tmp_path, original, mistake, expected):
    text = COMPOSE_FILE.read_text()
    assert text.count(original) == 1, f"the mistake no longer applies: {original!r} is not once in compose.yaml"
    copy = tmp_path / "compose.yaml"
    copy.write_text(text.replace(original, mistake))
    problems = problems_of(copy)
    assert any(expected in problem for problem in problems), problems
