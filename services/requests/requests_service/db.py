"""PostgreSQL through psycopg2: a small pool of connections, every wait on the database bounded, and the schema.

The service must answer 503 while the database is down or frozen, promptly, and recover by itself when it returns:
- Every wait on PostgreSQL (connecting, each statement, each commit) ends after ANSWER_TIMEOUT, even when the server
  does not answer at all (a frozen process, a dead host): psycopg2 runs in its "green" mode, where a wait callback of
  ours (wait_with_deadline) does the waiting. When it gives up, psycopg2 closes the connection, so the server rolls
  back whatever that connection had not committed.
- The server ends what runs too long itself, before that deadline (SERVER_SETTINGS), so a slow statement or a lock
  waited on gives a clean error and the connection stays usable.
- Once PostgreSQL has let a wait run out, the process stops waiting on it: every request gets its 503 at once, while
  a background thread tries the database until it answers (that try is usually waiting on the frozen server, so it
  succeeds as soon as the server answers), and then requests go through again. Without this, requests queued behind
  threads stuck for ANSWER_TIMEOUT each would wait several times as long for their 503.
- Connections are made outside any lock, so one connect waiting on a frozen server delays no other request.
- A pooled connection the server has closed is dropped before use, and a connection that failed is discarded.
"""

import logging
import select
import threading
import time

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from flask import Flask, current_app, g

log = logging.getLogger(__name__)

# One connection per gunicorn thread of a worker (gunicorn.conf.py), kept open between requests: a request never
# waits for a connection, and a worker holds at most this many, well under small hosted plans' connection limits.
POOL_SIZE = 4

ANSWER_TIMEOUT = 2.0  # seconds the service waits for PostgreSQL: to connect (TCP and authentication), per statement
# Set on every connection, ended by the server itself. statement_timeout and lock_timeout sit below ANSWER_TIMEOUT, so
# a server that answers at all answers with its own error first. A transaction may stay idle while the tasks service
# is asked (an Idempotency-Key create, idempotency.py): idle_in_transaction_session_timeout is that wait plus a margin
# (Database.server_settings), so that only a service process that froze mid-transaction is cut off.
SERVER_SETTINGS = {"statement_timeout": "1500ms", "lock_timeout": "1000ms"}
IDLE_IN_TRANSACTION_MARGIN = 5.0  # seconds
CONNECT_OPTIONS = {
    "application_name": "requests",
    # A connection whose sent data goes unacknowledged for this long (a vanished host, a broken route) is dropped by
    # the kernel. connect_timeout is not set: psycopg2's green mode connects through libpq's non-blocking calls, which
    # ignore it, and ANSWER_TIMEOUT bounds connecting instead.
    "tcp_user_timeout": 2000,  # milliseconds
    # An idle pooled connection to a vanished server is noticed within 10 + 3 * 5 s, before a request picks it up.
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "cursor_factory": psycopg2.extras.RealDictCursor,  # rows as dicts, ready for JSON
}

PROBE_PAUSE = 0.2  # seconds between two tries of a database thought unreachable

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
-- The answers of POSTs sent with an Idempotency-Key (idempotency.py), kept until they expire.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key          TEXT        PRIMARY KEY,
    fingerprint  BYTEA       NOT NULL,
    status       SMALLINT    NOT NULL,
    body         BYTEA       NOT NULL,
    location     TEXT,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
"""


class DatabaseTimeoutError(psycopg2.OperationalError):
    """PostgreSQL did not answer within ANSWER_TIMEOUT; psycopg2 has closed the connection."""


class DatabaseUnreachableError(psycopg2.OperationalError):
    """PostgreSQL let a recent wait run out and has not answered since: no request waits on it."""


class OutcomeUnknown(Exception):  # noqa: N818 - the name is the answer's own words
    """The connection was lost after COMMIT was sent: the change may or may not have been applied. `advice` tells
    the client what a retry does."""

    def __init__(self, cause: Exception, advice: str):
        super().__init__(advice)
        self.cause = cause
        self.advice = advice


class DeadlineConnection(psycopg2.extensions.connection):
    """A connection whose every wait ends after ANSWER_TIMEOUT (see wait_with_deadline); `timed_out` says one did."""

    answer_timeout = ANSWER_TIMEOUT
    timed_out = False


def wait_with_deadline(conn) -> None:
    """psycopg2's wait callback (psycopg2.extras.wait_select, with a deadline): poll the connection until the current
    operation is done. Connections of other classes (a test's own, say) wait without one."""
    timeout = getattr(conn, "answer_timeout", None)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            conn.timed_out = True
            raise DatabaseTimeoutError(f"PostgreSQL did not answer within {timeout:g} s")
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn], [], [], remaining)
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn], [], remaining)
        else:
            raise psycopg2.OperationalError(f"unexpected state from poll(): {state}")


def create_schema(conn) -> None:
    """Create the tables and their indexes if missing; safe when several processes run it at once."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            cur.execute(SCHEMA)
        conn.commit()
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise


def commit(conn, advice: str) -> None:
    """Commit, or raise OutcomeUnknown when the connection is lost after COMMIT went out (no answer in time, or a
    broken connection). When the server answers with an error, nothing was committed, and that error is raised."""
    try:
        conn.commit()
    except psycopg2.OperationalError as error:
        if error.pgcode is not None:
            raise
        raise OutcomeUnknown(error, advice) from error


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
    """The connections of one process: at most POOL_SIZE, idle ones reused, made on demand; whether PostgreSQL is
    thought unreachable (it let a wait run out, and no request has got through since); whether the schema exists."""

    def __init__(self, url: str, tasks_timeout: float):
        idle_limit = int((tasks_timeout + IDLE_IN_TRANSACTION_MARGIN) * 1000)
        settings = {**SERVER_SETTINGS, "idle_in_transaction_session_timeout": f"{idle_limit}ms"}
        own_options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        # libpq's `options` from the URL (a search_path, say) are kept, ours added after them.
        given = psycopg2.extensions.parse_dsn(url).get("options", "")
        self.dsn = psycopg2.extensions.make_dsn(url, options=f"{given} {own_options}".strip())
        self.schema_ready = False
        self.unreachable = False
        self._closed = False
        self._idle: list = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(POOL_SIZE)

    def getconn(self):
        """A live connection, with the schema in place. Raises psycopg2.Error while the database is unreachable."""
        if self.unreachable:
            raise DatabaseUnreachableError(f"PostgreSQL has not answered within {ANSWER_TIMEOUT:g} s lately")
        if not self._slots.acquire(blocking=False):
            raise psycopg2.OperationalError(f"all {POOL_SIZE} database connections are in use")
        try:
            conn = self._idle_connection() or self._connect()
        except BaseException as error:
            self._slots.release()
            if isinstance(error, DatabaseTimeoutError):
                self._lost()
            raise
        if not self.schema_ready:
            try:
                create_schema(conn)
            except psycopg2.Error:
                self.putconn(conn)
                raise
            self.schema_ready = True
        return conn

    def _idle_connection(self):
        """The most recently used idle connection that is still open, or None."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or not _server_closed(conn):
                return conn
            conn.close()

    def _connect(self):
        return psycopg2.connect(self.dsn, connection_factory=DeadlineConnection, **CONNECT_OPTIONS)

    def _lost(self) -> None:
        """PostgreSQL let a wait run out: stop waiting on it, and try it in the background until it answers."""
        with self._lock:
            if self.unreachable:
                return
            self.unreachable = True
        log.warning("database did not answer within %g s: 503 at once until it answers again", ANSWER_TIMEOUT)
        threading.Thread(target=self._probe, name="database-probe", daemon=True).start()

    def _probe(self) -> None:
        while not self._closed:
            try:
                conn = self._connect()
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                finally:
                    conn.close()
            except psycopg2.Error:
                time.sleep(PROBE_PAUSE)
                continue
            break
        self.unreachable = False
        log.info("database answers again")

    def putconn(self, conn) -> None:
        """Give a connection back: a healthy one is kept idle, a broken one is closed, and one on which a wait ran out
        makes the database unreachable."""
        status = conn.info.transaction_status if not conn.closed else None
        healthy = status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        if status in (psycopg2.extensions.TRANSACTION_STATUS_INTRANS, psycopg2.extensions.TRANSACTION_STATUS_INERROR):
            try:
                conn.rollback()  # a request that failed midway left its transaction open
                healthy = True
            except psycopg2.Error:
                healthy = False
        if healthy:
            with self._lock:
                self._idle.append(conn)
        else:
            conn.close()
        if conn.timed_out:
            self._lost()
        self._slots.release()

    def close(self) -> None:
        """Close the idle connections, and stop trying an unreachable database."""
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


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
    """Bound every wait on PostgreSQL, attach the connections to the app, and create the schema now if the database
    is reachable, else on first use."""
    psycopg2.extensions.set_wait_callback(wait_with_deadline)
    database = Database(app.config["DATABASE_URL"], app.config["TASKS_TIMEOUT"])
    app.extensions["db"] = database
    app.teardown_appcontext(close_db)
    try:
        database.putconn(database.getconn())
    except psycopg2.Error as error:
        # Starting anyway lets /health report the outage and the service recover by itself when the database is back.
        log.warning("database unreachable at start, schema deferred to the first request that reaches it: %s", error)
