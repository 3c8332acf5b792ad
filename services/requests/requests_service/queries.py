"""The SQL of the requests API, in one place: the benchmark's bare-WSGI baseline runs these very statements.

Each statement is a literal, or one of a fixed set of literals (LIST, by sort): values only ever travel as parameters.
Times are kept to the millisecond, as the API shows them, so that the order a list is sorted in is the order its
times read in, ties broken by id.
"""

_COLUMNS = "id, task_id, requester, note, status, created_at, updated_at"
_NOW = "date_trunc('milliseconds', now())"
# A filter that is not given is NULL and matches every row, so each query stays one fixed text.
_FILTERS = (
    " WHERE (%(status)s IS NULL OR status = %(status)s)"
    " AND (%(task_id)s IS NULL OR task_id = %(task_id)s)"
    " AND (%(requester)s IS NULL OR requester = %(requester)s)"
)
COUNT = "SELECT count(*) AS total FROM requests" + _FILTERS
# By sort parameter: the column, in the given direction, then id in the same direction.
LIST = {
    sort: f"SELECT {_COLUMNS} FROM requests{_FILTERS}"
    f" ORDER BY {column} {direction}, id {direction} LIMIT %(limit)s OFFSET %(offset)s"
    for sort, column, direction in (
        ("created_at", "created_at", "ASC"),
        ("-created_at", "created_at", "DESC"),
        ("updated_at", "updated_at", "ASC"),
        ("-updated_at", "updated_at", "DESC"),
    )
}
INSERT = (
    "INSERT INTO requests (task_id, requester, note, created_at, updated_at)"
    f" VALUES (%(task_id)s, %(requester)s, %(note)s, {_NOW}, {_NOW}) RETURNING {_COLUMNS}"
)
GET = f"SELECT {_COLUMNS} FROM requests WHERE id = %s"
# FOR UPDATE: two concurrent decisions on one request are serialized, and the second sees the first.
LOCK_STATUS = "SELECT status FROM requests WHERE id = %s FOR UPDATE"
SET_STATUS = f"UPDATE requests SET status = %s, updated_at = {_NOW} WHERE id = %s RETURNING {_COLUMNS}"
DELETE = "DELETE FROM requests WHERE id = %s"
