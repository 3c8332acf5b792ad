"""PostgreSQL through a psycopg2 connection pool: one pooled connection per request, returned at teardown.

The service must answer 503 while the database is down and recover by itself when it returns, so: the pool is created
on first use (creating it connects), connections the server has closed are dropped instead of reused, and a broken
connection is discarded when the request that hit the failure gives it back.
"""

import logging
import select
import threading

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool
from flask import Flask, current_app, g

log = logging.getLogger(__name__)

# minconn is both what the pool opens when created and how many idle connections it keeps; one per worker is enough
# for this service's traffic and stays well under small hosted plans' connection limits. maxconn matches the
# gunicorn threads of a worker (gunicorn.conf.py), so a request never finds the pool exhausted.
POOL_MIN = 1
POOL_MAX = 4

CONNECT_OPTIONS = {
    "connect_timeout": 3,  # seconds; a down database answers 503 quickly
    "application_name": "requests",
    "keepalives": 1,  # notice a vanished server on idle connections
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "cursor_factory": psycopg2.extras.RealDictCursor,  # rows as dicts, ready for JSON
}

# Every worker runs the DDL at start; the transaction-scoped advisory lock makes concurrent starts wait for each
# other, since CREATE ... IF NOT EXISTS alone can still fail when two sessions race on the same table.
SCHEMA_LOCK_KEY = 5_000_001
SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id          BIGSERIAL PRIMARY KEY,
    task_id     CHAR(24)    NOT NULL CHECK (task_id ~ '^[0-9a-f]{24}$'),
    requester   TEXT        NOT NULL CHECK (char_length(requester) BETWEEN 1 AND 100),
    note        TEXT                 CHECK (char_length(note) <= 1000),
    status      TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now())
);
CREATE INDEX IF NOT EXISTS requests_task_id_idx ON requests (task_id);
CREATE INDEX IF NOT EXISTS requests_status_idx ON requests (status);
CREATE INDEX IF NOT EXISTS requests_requester_idx ON requests (requester);
-- The list's sort orders, ties broken by id.
CREATE INDEX IF NOT EXISTS requests_created_at_idx ON requests (created_at, id);
CREATE INDEX IF NOT EXISTS requests_updated_at_idx ON requests (updated_at, id);
"""


def create_schema(conn) -> None:
    """Create the table and its indexes if missing; safe when several processes run it at once."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            cur.execute(SCHEMA)
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise


def _server_closed(conn) -> bool:
    # An idle connection has nothing to read; readable means the server sent its goodbye (a restart or an
    # administrator's kill) or closed the socket, so the connection would fail on first use.
    if conn.closed:
        return True
    try:
        readable, _, _ = select.select([conn], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class Database:
    """The pool of one process, created on first use, and whether the schema is known to exist."""

    def __init__(self, url: str):
        self.url = url
        self.schema_ready = False
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def getconn(self):
        """A live connection, with the schema in place. Raises psycopg2.Error while the database is unreachable."""
        with self._lock:
            if self._pool is None:
                self._pool = psycopg2.pool.ThreadedConnectionPool(POOL_MIN, POOL_MAX, self.url, **CONNECT_OPTIONS)
        conn = self._pool.getconn()
        while _server_closed(conn):  # each pass discards one stale idle connection; a new one is fresh
            self._pool.putconn(conn, close=True)
            conn = self._pool.getconn()
        if not self.schema_ready:
            try:
                create_schema(conn)
            except psycopg2.Error:
                self.putconn(conn)
                raise
            self.schema_ready = True
        return conn

    def putconn(self, conn) -> None:
        """Give a connection back: a healthy one is kept idle, a broken one is closed."""
        broken = conn.closed or conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN
        if not broken and conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            try:
                conn.rollback()  # a request that failed midway left its transaction open
            except psycopg2.Error:
                broken = True
        pool = self._pool
        if pool is None or pool.closed:
            conn.close()  # the pool was closed while this request ran
        else:
            pool.putconn(conn, close=broken)

    def close(self) -> None:
        """Close every connection; the next getconn starts a new pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.closeall()


def get_db():
    """The current request's connection, checked out of the pool on first use."""
    if "db" not in g:
        g.db = current_app.extensions["db"].getconn()
    return g.db


def close_db(exception=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        current_app.extensions["db"].putconn(conn)


def init_app(app: Flask) -> None:
    """Attach the pool to the app and create the schema now if the database is reachable, else on first use."""
    database = Database(app.config["DATABASE_URL"])
    app.extensions["db"] = database
    app.teardown_appcontext(close_db)
    try:
        database.putconn(database.getconn())
    except psycopg2.Error as error:
        # Starting anyway lets /health report the outage and the service recover by itself when the database is back.
        log.warning("database unreachable at start, schema deferred to the first request that reaches it: %s", error)
