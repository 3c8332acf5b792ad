"""The environment schema: a missing or bad variable stops the start with its name, and secrets are never echoed."""

import subprocess
import sys
import time

import pytest
from support import SERVICE_DIR, service_env

from requests_service.config import ConfigError, load_config

GOOD = {"DATABASE_URL": "postgres://app:s3cret-pw@db.example:5432/requests", "TASKS_URL": "http://10.0.1.5:8080"}


def problems(environ) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(environ)
    return str(caught.value)


def test_defaults():
    config = load_config(GOOD)
    assert config == {
        "PORT": 8000,
        "DATABASE_URL": GOOD["DATABASE_URL"],
        "TASKS_URL": "http://10.0.1.5:8080",
        "TASKS_TIMEOUT": 2.0,
        "PAPERTRAIL_DESTINATION": None,
        "PAPERTRAIL_PROTOCOL": "udp",
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
            "PAPERTRAIL_PROTOCOL": "TCP",
            "LOG_LEVEL": "debug",
            "WEB_CONCURRENCY": "3",
        }
    )
    assert config["PORT"] == 9000
    assert config["TASKS_URL"] == "https://tasks.internal:8443"
    assert config["TASKS_TIMEOUT"] == 0.25
    assert config["PAPERTRAIL_DESTINATION"] == ("logs5.papertrailapp.com", 41234)
    assert config["PAPERTRAIL_PROTOCOL"] == "tcp"
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
        ("PAPERTRAIL_PROTOCOL", "http", "udp, tcp"),
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
    for variable in ("DATABASE_URL", "TASKS_URL", "PORT", "LOG_LEVEL"):
        assert f"  - {variable}: " in message


# The real start path: gunicorn reads gunicorn.conf.py, which checks the environment before any worker boots.
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"TASKS_URL": "http://127.0.0.1:9"}, "DATABASE_URL"),
        ({**GOOD, "DATABASE_URL": "mysql://app:s3cret-pw@127.0.0.1/requests"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://app:s3cret-pw@127.0.0.1/requests"}, "TASKS_URL"),
        ({**GOOD, "PORT": "eighty"}, "PORT"),
        ({**GOOD, "PAPERTRAIL_DESTINATION": "nowhere"}, "PAPERTRAIL_DESTINATION"),
    ],
    ids=["no DATABASE_URL", "mysql DATABASE_URL", "no TASKS_URL", "bad PORT", "bad PAPERTRAIL_DESTINATION"],
)
def test_gunicorn_refuses_a_bad_environment(variables, named):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
        cwd=SERVICE_DIR,
        env=service_env(**variables),
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "refusing to start: invalid environment" in output
    assert f"{named}: " in output
    assert "s3cret-pw" not in output
    assert "Booting worker" not in output
    assert time.monotonic() - started < 10
