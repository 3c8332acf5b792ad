"""The service's environment: one schema, checked once at start.

Every problem is collected into one message that names the variable and says what to set instead, so a bad
deployment fails fast and is fixed in one go. Secret values (DATABASE_URL, PAPERTRAIL_DESTINATION, API_KEYS,
TASKS_API_KEY) are never echoed,
and each can instead come from a file named by NAME_FILE (the hosts mount secrets as files, so that no value shows in
`docker inspect`).
"""

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .callers import KEY, Callers, CallersError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# TLS (TCP with certificate verification) by default; UDP, clear text and 1 KB a message, only when asked for. Plain
# TCP is not offered: it is as readable on the way as UDP, and Papertrail accepts it only when enabled in its settings.
PROTOCOLS = ("tls", "udp")


class ConfigError(Exception):
    """The environment is missing a variable or holds a bad value; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid environment:\n" + "\n".join(f"  - {p}" for p in problems))


def _port(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", value) or not 1 <= int(value) <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return int(value)


def _database_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError("must be a PostgreSQL URL starting with postgres:// or postgresql://")
    try:
        parts.port  # noqa: B018 - urlsplit only checks the port when it is read
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value


def _tasks_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be the tasks service's base URL, http://HOST:PORT or https://HOST:PORT")
    if parts.query or parts.fragment:
        raise ValueError("must be a base URL without ?query or #fragment")
    try:
        parts.port  # noqa: B018
    except ValueError:
        raise ValueError("has an invalid port") from None
    # Paths are joined as f"{TASKS_URL}/tasks/{id}", so a trailing slash would double up.
    return value.rstrip("/")


def _key(value: str) -> str:
    if not KEY.fullmatch(value):
        raise ValueError("must be a key as docs/api.md shapes them: msk_ and 43 base64url characters")
    return value


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("must be a number of seconds, such as 2 or 0.5") from None
    if not math.isfinite(seconds) or not 0 < seconds <= 60:
        raise ValueError("must be a number of seconds greater than 0 and at most 60")
    return seconds


def _destination(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or re.search(r"[\s/]", host):
        raise ValueError("must be HOST:PORT, as Papertrail shows it (logsN.papertrailapp.com:PORT)")
    try:
        return host, _port(port)
    except ValueError:
        raise ValueError("must end with a port number from 1 to 65535 (HOST:PORT)") from None


def _choice(allowed: tuple[str, ...], normalize: Callable[[str], str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if normalize(value) not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return normalize(value)

    return parse


def _level_name(value: str) -> str:
    # The deployment shares one logLevel with the Node service, whose levels say "warn".
    name = value.upper()
    return "WARNING" if name == "WARN" else name


def _workers(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= 64:
        raise ValueError("must be a number of worker processes from 1 to 64")
    return int(value)


@dataclass(frozen=True)
class Variable:
    name: str
    parse: Callable[[str], Any]
    help: str
    default: str | None = None  # None: required
    secret: bool = False


SCHEMA = (
    Variable("PORT", _port, "the port gunicorn listens on", default="8000"),
    Variable(
        "DATABASE_URL",
        _database_url,
        "the PostgreSQL URL, postgres://USER:PASSWORD@HOST:5432/DATABASE",
        secret=True,
    ),
    Variable("TASKS_URL", _tasks_url, "the tasks service's base URL, such as http://10.0.1.23:8080"),
    Variable(
        "TASKS_API_KEY",
        _key,
        "the key this service calls the tasks service with (its caller `requests` there, which may read)",
        secret=True,
    ),
    Variable("TASKS_TIMEOUT", _timeout, "seconds to wait for the tasks service", default="2"),
    Variable(
        "PAPERTRAIL_DESTINATION",
        _destination,
        "Papertrail's HOST:PORT; logs ship there only when it is set",
        default="",
        secret=True,
    ),
    Variable(
        "API_KEYS",
        Callers.parse,
        'the callers file, {"callers": {...}}, with the SHA-256 digests of their keys (docs/api.md § Authentication)',
        secret=True,
    ),
    Variable("PAPERTRAIL_PROTOCOL", _choice(PROTOCOLS, str.lower), "tls or udp", default="tls"),
    Variable("LOG_LEVEL", _choice(LOG_LEVELS, _level_name), "the lowest level logged", default="INFO"),
    Variable("WEB_CONCURRENCY", _workers, "gunicorn worker processes", default="2"),
)


def load_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse the variables of SCHEMA from environ into typed values, or raise ConfigError listing every problem."""
    config: dict[str, Any] = {}
    problems = []
    for var in SCHEMA:
        try:
            raw = _raw_value(var, environ)
        except ValueError as error:
            problems.append(str(error))
            continue
        if var.default is None and (raw is None or raw.strip() == ""):
            state = "not set" if raw is None else "empty"
            also = f" (or {var.name}_FILE)" if var.secret else ""
            problems.append(f"{var.name}: required but {state}; set it{also} to {var.help}")
            continue
        if raw is None:
            raw = var.default
        raw = raw.strip()
        if raw == "" and var.default == "":
            config[var.name] = None  # optional and off
            continue
        try:
            config[var.name] = var.parse(raw)
        except CallersError as error:
            problems += [f"{var.name}: {problem}" for problem in error.problems]
        except ValueError as error:
            shown = "" if var.secret else f" (got {raw!r})"
            problems.append(f"{var.name}: {error}{shown}")
    if problems:
        raise ConfigError(problems)
    return config


def _raw_value(var: Variable, environ: Mapping[str, str]) -> str | None:
    """The variable's text: from NAME, or for a secret from the file NAME_FILE names (an empty one counts as unset).
    Raises ValueError naming the variable, never the value, when both are set or the file cannot be read."""
    plain = environ.get(var.name)
    path = environ.get(f"{var.name}_FILE") if var.secret else None
    if not path:
        return plain
    if plain:
        raise ValueError(f"{var.name}: set either {var.name} or {var.name}_FILE, not both")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
        raise ValueError(f"{var.name}_FILE: cannot read {path}: {reason}") from None
    return text


def variable_names() -> list[str]:
    """Every variable the service reads, NAME_FILE variants included."""
    names = []
    for var in SCHEMA:
        names += [var.name, f"{var.name}_FILE"] if var.secret else [var.name]
    return names
