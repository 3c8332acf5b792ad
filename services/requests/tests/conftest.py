"""Fixtures: a real PostgreSQL (DATABASE_URL, or a throwaway cluster started here), the tasks stand-in, and apps
built by the real factory. Every test starts with an empty requests table."""

import os

import pytest
from contract import ContractClient
from support import Cluster, TasksStandIn, execute, free_port, service_env, start_gunicorn, wait_healthy

from requests_service import create_app, logs


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """DATABASE_URL when set (scripts/test.sh exports it); otherwise a cluster of our own for the session."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    cluster = Cluster(tmp_path_factory.mktemp("postgres") / "data")
    yield cluster.start()
    cluster.stop()


@pytest.fixture
def cluster(tmp_path):
    """A PostgreSQL cluster of the test's own, for tests that stop, freeze or reconfigure their database."""
    cluster = Cluster(tmp_path / "pg")
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def tasks_standin():
    standin = TasksStandIn()
    yield standin
    standin.close()


@pytest.fixture(scope="session")
def server(database_url, tasks_standin, tmp_path_factory):
    """One gunicorn for the session, as the image runs it, on the shared database: its port."""
    port = free_port()
    env = service_env(DATABASE_URL=database_url, TASKS_URL=tasks_standin.url, PORT=str(port))
    proc = start_gunicorn(env, tmp_path_factory.mktemp("server") / "gunicorn.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def tasks(tasks_standin):
    tasks_standin.reset()
    yield tasks_standin
    tasks_standin.reset()


@pytest.fixture
def make_app(database_url, tasks):
    """Build an app from environment-style variables (defaults: the shared database and the tasks stand-in)."""
    apps = []

    def make(**variables):
        config = {"DATABASE_URL": database_url, "TASKS_URL": tasks.url, "TASKS_TIMEOUT": "0.5", **variables}
        app = create_app(config)
        app.test_client_class = ContractClient  # every answer a test gets is checked against openapi.json
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["db"].close()
    logs.shutdown_logging()


@pytest.fixture
def app(make_app, database_url):
    app = make_app()  # creates the schema
    execute(database_url, "TRUNCATE requests RESTART IDENTITY")
    return app


@pytest.fixture
def client(app):
    return app.test_client()
