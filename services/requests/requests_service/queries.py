"""The SQL of the requests API, in one place: the benchmark's bare-WSGI baseline runs these very statements.

Each statement is a literal: values only ever travel as parameters.
"""

# A filter that is not given is NULL and matches every row, so each query stays one fixed text.
COUNT = (
    "SELECT count(*) AS total FROM requests"
    " WHERE (%(status)s IS NULL OR status = %(status)s) AND (%(task_id)s IS NULL OR task_id = %(task_id)s)"
)
LIST = (
    "SELECT id, task_id, requester, note, status, created_at, updated_at FROM requests"
    " WHERE (%(status)s IS NULL OR status = %(status)s) AND (%(task_id)s IS NULL OR task_id = %(task_id)s)"
    " ORDER BY id LIMIT %(limit)s OFFSET %(offset)s"
)
INSERT = (
    "INSERT INTO requests (task_id, requester, note) VALUES (%(task_id)s, %(requester)s, %(note)s)"
    " RETURNING id, task_id, requester, note, status, created_at, updated_at"
)
GET = "SELECT id, task_id, requester, note, status, created_at, updated_at FROM requests WHERE id = %s"
# FOR UPDATE: two concurrent decisions on one request are serialized, and the second sees the first.
LOCK_STATUS = "SELECT status FROM requests WHERE id = %s FOR UPDATE"
SET_STATUS = (
    "UPDATE requests SET status = %s, updated_at = now() WHERE id = %s"
    " RETURNING id, task_id, requester, note, status, created_at, updated_at"
)
DELETE = "DELETE FROM requests WHERE id = %s"
