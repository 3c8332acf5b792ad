"""The /requests resource: list, create (after asking the tasks service), read, change status, delete."""

from flask import Blueprint, current_app, jsonify, url_for

from . import queries, validation
from .db import commit, get_db
from .errors import ApiError, detail
from .idempotency import idempotent
from .tasks import task_exists
from .times import rfc3339

bp = Blueprint("requests", __name__, url_prefix="/requests")

# Allowed status changes: a request starts pending and is decided once; approved and rejected are final.
TRANSITIONS = {
    "pending": ("approved", "rejected"),
    "approved": (),
    "rejected": (),
}
FILTERS = ("status", "task_id", "requester")
DECISION_UNKNOWN = (
    "The database stopped answering after the decision was sent for commit, so it may or may not have been recorded. "
    "A retry is safe: a request already decided answers 409, and GET /requests/{id} shows its status."
)
DELETION_UNKNOWN = (
    "The database stopped answering after the deletion was sent for commit, so it may or may not have been done. "
    "A retry is safe: a request already deleted answers 404."
)


def _json(row) -> dict:
    return {**row, "created_at": rfc3339(row["created_at"]), "updated_at": rfc3339(row["updated_at"])}


def _not_found(request_id: int) -> ApiError:
    return ApiError(404, "request not found", [detail("id", f"there is no request with id {request_id}")])


@bp.get("")
def list_requests():
    params = validation.list_params()
    with get_db().cursor() as cur:
        cur.execute(queries.COUNT, params)
        total = cur.fetchone()["total"]
        cur.execute(queries.LIST[params["sort"]], params)
        items = [_json(row) for row in cur.fetchall()]
    return {
        "items": items,
        "total": total,
        "limit": params["limit"],
        "offset": params["offset"],
        "next": _next_page(params, total),
    }


def _next_page(params: dict, total: int) -> str | None:
    """The next page's relative URL with the same filters and sort, or None on the last page (or past OFFSET_MAX)."""
    offset = params["offset"] + params["limit"]
    if offset >= total or offset > validation.OFFSET_MAX:
        return None
    filters = {name: params[name] for name in FILTERS if params[name] is not None}
    return url_for(".list_requests", limit=params["limit"], offset=offset, sort=params["sort"], **filters)


@bp.post("")
@idempotent
def create_request():
    """Ask the tasks service, then insert; `idempotent` commits. A TasksUnavailableError (503) leaves nothing written.
    Without an Idempotency-Key no connection is held while the tasks service answers; with one, the key's
    transaction is (idempotency.py)."""
    fields = validation.new_request(validation.json_object())
    if not _task_exists(fields["task_id"]):
        raise ApiError(422, "unknown task", [detail("task_id", f"the tasks service has no task {fields['task_id']}")])
    with get_db().cursor() as cur:
        cur.execute(queries.INSERT, fields)
        row = cur.fetchone()
    return jsonify(_json(row)), 201, {"Location": url_for(".get_request", request_id=row["id"])}


@bp.get("/<request_id>")
def get_request(request_id: str):
    rid = validation.parse_id(request_id)
    row = _read(rid)
    if row is None:
        raise _not_found(rid)
    return _json(row)


@bp.patch("/<request_id>")
def change_status(request_id: str):
    """Decide a pending request. Approval asks the tasks service first whether the task still exists (docs/api.md,
    §Tasks and requests); no transaction is open meanwhile, so the change is checked again under the row lock."""
    rid = validation.parse_id(request_id)
    new_status = validation.status_change(validation.json_object())
    row = _read(rid)
    if row is None:
        raise _not_found(rid)
    _check_transition(rid, row["status"], new_status)
    if new_status == "approved" and not _task_exists(row["task_id"]):
        raise ApiError(
            409,
            "task no longer exists",
            [detail("task_id", f"task {row['task_id']} was deleted; request {rid} can be rejected or deleted")],
        )
    db = get_db()
    with db.cursor() as cur:
        cur.execute(queries.LOCK_STATUS, (rid,))
        locked = cur.fetchone()
        if locked is None:  # deleted meanwhile
            raise _not_found(rid)
        _check_transition(rid, locked["status"], new_status)  # decided meanwhile
        cur.execute(queries.SET_STATUS, (new_status, rid))
        row = cur.fetchone()
    commit(db, DECISION_UNKNOWN)
    return _json(row)


def _check_transition(rid: int, status: str, new_status: str) -> None:
    allowed = TRANSITIONS[status]
    if new_status not in allowed:
        then = f"it can become {' or '.join(allowed)}" if allowed else "it is final"
        raise ApiError(
            409,
            "invalid status transition",
            [detail("status", f"request {rid} is {status} and cannot become {new_status}; {then}")],
        )


@bp.delete("/<request_id>")
def delete_request(request_id: str):
    rid = validation.parse_id(request_id)
    db = get_db()
    with db.cursor() as cur:
        cur.execute(queries.DELETE, (rid,))
        deleted = cur.rowcount
    commit(db, DELETION_UNKNOWN)
    if not deleted:
        raise _not_found(rid)
    return "", 204


def _read(rid: int) -> dict | None:
    """One row, read in a transaction that ends at once, so none stays open while the tasks service is asked."""
    db = get_db()
    with db.cursor() as cur:
        cur.execute(queries.GET, (rid,))
        row = cur.fetchone()
    db.rollback()
    return row


def _task_exists(task_id: str) -> bool:
    return task_exists(current_app.config["TASKS_URL"], task_id, current_app.config["TASKS_TIMEOUT"])
