"""The environment schema: a missing or bad variable stops the start with its name, and secrets are never echoed."""

import time

import pytest
from keys import API_KEYS, TASKS_KEY
from support import refused_start

from requests_service.callers import Callers
from requests_service.config import ConfigError, load_config, variable_names

GOOD = {
    "DATABASE_URL": "postgres://app:s3cret-pw@db.example:5432/requests",
    "TASKS_URL": "http://10.0.1.5:8080",
    "TASKS_API_KEY": TASKS_KEY,
    "API_KEYS": API_KEYS,
}


def problems(environ) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(environ)
    return str(caught.value)


def test_defaults():
    config = load_config(GOOD)
    assert isinstance(config.pop("API_KEYS"), Callers)
    assert config == {
        "PORT": 8000,
        "DATABASE_URL": GOOD["DATABASE_URL"],
        "TASKS_URL": "http://10.0.1.5:8080",
        "TASKS_API_KEY": TASKS_KEY,
        "TASKS_TIMEOUT": 2.0,
        "PAPERTRAIL_DESTINATION": None,
        "PAPERTRAIL_PROTOCOL": "tls",
        "LOG_LEVEL": "INFO",
        "WEB_CONCURRENCY": 2,
    }


def test_values_are_parsed():
    config = load_config(
        {
            **GOOD,
            "DATABASE_URL": "postgresql://u@h/db",
            "TASKS_URL": "https://tasks.internal:8443/",
            "PORT": "9000",
            "TASKS_TIMEOUT": "0.25",
            "PAPERTRAIL_DESTINATION": "logs5.papertrailapp.com:41234",
            "PAPERTRAIL_PROTOCOL": "UDP",
            "LOG_LEVEL": "debug",
            "WEB_CONCURRENCY": "3",
        }
    )
    assert config["PORT"] == 9000
    assert config["TASKS_URL"] == "https://tasks.internal:8443"
    assert config["TASKS_TIMEOUT"] == 0.25
    assert config["PAPERTRAIL_DESTINATION"] == ("logs5.papertrailapp.com", 41234)
    assert config["PAPERTRAIL_PROTOCOL"] == "udp"
    assert config["LOG_LEVEL"] == "DEBUG"
    assert config["WEB_CONCURRENCY"] == 3


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DATABASE_URL", None, "required but not set"),
        ("DATABASE_URL", "  ", "required but empty"),
        ("DATABASE_URL", "mysql://app:s3cret-pw@db/requests", "postgres:// or postgresql://"),
        ("DATABASE_URL", "postgres://app:s3cret-pw@db:99999999/requests", "invalid port"),
        ("TASKS_URL", None, "required but not set"),
        ("TASKS_URL", "tasks:8080", "http://HOST:PORT"),
        ("TASKS_URL", "ftp://tasks", "http://HOST:PORT"),
        ("TASKS_URL", "http://tasks:8080/?x=1", "without ?query"),
        ("PORT", "http", "port number"),
        ("PORT", "0", "port number"),
        ("PORT", "65536", "port number"),
        ("TASKS_TIMEOUT", "soon", "number of seconds"),
        ("TASKS_TIMEOUT", "0", "greater than 0"),
        ("TASKS_TIMEOUT", "nan", "greater than 0"),
        ("PAPERTRAIL_DESTINATION", "logs5.papertrailapp.com", "HOST:PORT"),
        ("PAPERTRAIL_DESTINATION", "logs5.papertrailapp.com:port", "port number"),
        ("PAPERTRAIL_PROTOCOL", "http", "tls, udp"),
        ("PAPERTRAIL_PROTOCOL", "tcp", "tls, udp"),  # plain TCP is no longer offered
        ("LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("WEB_CONCURRENCY", "0", "from 1 to 64"),
    ],
)
def test_bad_variable_is_named(variable, value, says):
    environ = {**GOOD, variable: value}
    if value is None:
        del environ[variable]
    message = problems(environ)
    assert f"{variable}: " in message
    assert says in message
    assert "s3cret-pw" not in message
    assert "logs5.papertrailapp.com" not in message  # the destination is a secret too


@pytest.mark.parametrize(
    ("value", "level"),
    [("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARNING"), ("Warning", "WARNING"), ("error", "ERROR")],
)
def test_log_levels_of_the_deployment_are_accepted(value, level):
    assert load_config({**GOOD, "LOG_LEVEL": value})["LOG_LEVEL"] == level


def test_every_problem_is_listed_at_once():
    message = problems({"PORT": "x", "LOG_LEVEL": "LOUD"})
    for variable in ("DATABASE_URL", "TASKS_URL", "TASKS_API_KEY", "API_KEYS", "PORT", "LOG_LEVEL"):
        assert f"  - {variable}: " in message


# Secrets from files (docs/api.md, §Secrets from files): the file's content is the value, one trailing newline dropped.
@pytest.fixture
def secret_file(tmp_path):
    def write(text: str, name: str = "secret"):
        path = tmp_path / name
        path.write_text(text)
        path.chmod(0o600)
        return str(path)

    return write


def test_secrets_come_from_files(secret_file):
    environ = {
        **GOOD,
        "DATABASE_URL": "",
        "DATABASE_URL_FILE": secret_file(GOOD["DATABASE_URL"] + "\n", "db"),
        "PAPERTRAIL_DESTINATION_FILE": secret_file("logs5.papertrailapp.com:41234", "pt"),
    }
    config = load_config(environ)
    assert config["DATABASE_URL"] == GOOD["DATABASE_URL"]
    assert config["PAPERTRAIL_DESTINATION"] == ("logs5.papertrailapp.com", 41234)


def test_an_empty_file_variable_counts_as_unset(secret_file):
    assert load_config({**GOOD, "DATABASE_URL_FILE": ""})["DATABASE_URL"] == GOOD["DATABASE_URL"]
    assert "DATABASE_URL: required but not set; set it (or DATABASE_URL_FILE)" in problems({"TASKS_URL": "http://t"})


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"DATABASE_URL_FILE": "db"}, "DATABASE_URL: set either DATABASE_URL or DATABASE_URL_FILE, not both"),
        ({"DATABASE_URL": "", "DATABASE_URL_FILE": "/nonexistent/db"}, "DATABASE_URL_FILE: cannot read"),
        ({"PAPERTRAIL_DESTINATION_FILE": "/nonexistent/pt"}, "PAPERTRAIL_DESTINATION_FILE: cannot read"),
        ({"DATABASE_URL": "", "DATABASE_URL_FILE": "mysql"}, "DATABASE_URL: must be a PostgreSQL URL"),
        ({"PAPERTRAIL_DESTINATION_FILE": "nowhere"}, "PAPERTRAIL_DESTINATION: must be HOST:PORT"),
        ({"DATABASE_URL": "", "DATABASE_URL_FILE": "binary"}, "DATABASE_URL_FILE: cannot read"),
    ],
)
def test_bad_secret_files_are_named_without_their_value(secret_file, tmp_path, variables, says):
    contents = {"db": GOOD["DATABASE_URL"], "mysql": "mysql://app:s3cret-pw@db/requests", "nowhere": "s3cret-pw"}
    for name, value in variables.items():
        if value in contents:
            variables[name] = secret_file(contents[value], value)
        elif value == "binary":
            (tmp_path / "binary").write_bytes(b"postgres://app:s3cret-pw@\xff/db")
            variables[name] = str(tmp_path / "binary")
    message = problems({**GOOD, **variables})
    assert says in message
    assert "s3cret-pw" not in message


def test_only_secrets_have_file_variables():
    names = variable_names()
    assert {"DATABASE_URL_FILE", "PAPERTRAIL_DESTINATION_FILE"} <= set(names)
    assert "TASKS_URL_FILE" not in names
    assert load_config({**GOOD, "TASKS_URL_FILE": "/etc/hostname"})["TASKS_URL"] == GOOD["TASKS_URL"]


# The real start path: gunicorn reads gunicorn.conf.py, which checks the environment before any worker boots.
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"TASKS_URL": "http://127.0.0.1:9"}, "DATABASE_URL"),
        ({**GOOD, "DATABASE_URL": "mysql://app:s3cret-pw@127.0.0.1/requests"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://app:s3cret-pw@127.0.0.1/requests"}, "TASKS_URL"),
        ({**GOOD, "PORT": "eighty"}, "PORT"),
        ({**GOOD, "PAPERTRAIL_DESTINATION": "nowhere"}, "PAPERTRAIL_DESTINATION"),
        ({**GOOD, "DATABASE_URL_FILE": "/nonexistent/db"}, "DATABASE_URL"),
        ({"TASKS_URL": "http://t", "DATABASE_URL_FILE": "/nonexistent/db"}, "DATABASE_URL_FILE"),
    ],
    ids=[
        "no DATABASE_URL",
        "mysql DATABASE_URL",
        "no TASKS_URL",
        "bad PORT",
        "bad PAPERTRAIL_DESTINATION",
        "both DATABASE_URL and its file",
        "unreadable DATABASE_URL_FILE",
    ],
)
def test_gunicorn_refuses_a_bad_environment(variables, named):
    started = time.monotonic()
    output = refused_start(**variables)
    assert "refusing to start: invalid environment" in output
    assert f"{named}: " in output
    assert "s3cret-pw" not in output
    assert time.monotonic() - started < 10
