"""The system under test: both real services on loopback with their databases and log receivers, started once per
session by LocalSystem (scripts/local/system.py, the code scripts/run-local.sh runs too). DATABASE_URL and MONGODB_URI
are used when set (scripts/test.sh exports them); otherwise throwaway PostgreSQL and FerretDB servers are started."""

import os

import pytest
from system import LocalSystem


@pytest.fixture(scope="session")
def system(tmp_path_factory):
    local = LocalSystem(
        tmp_path_factory.mktemp("system"),
        database_url=os.environ.get("DATABASE_URL") or None,
        mongodb_uri=os.environ.get("MONGODB_URI") or None,
    )
    try:
        local.start()  # a missing prerequisite raises here, so every test errors instead of being skipped
        yield local
    finally:
        local.stop()
