"""The /requests resource: list, create (after asking the tasks service), read, change status, delete."""

from flask import Blueprint, current_app, jsonify, url_for

from . import queries, validation
from .db import get_db
from .errors import ApiError, detail
from .tasks import task_exists

bp = Blueprint("requests", __name__, url_prefix="/requests")

# Allowed status changes: a request starts pending and is decided once; approved and rejected are final.
TRANSITIONS = {
    "pending": ("approved", "rejected"),
    "approved": (),
    "rejected": (),
}


def _json(row) -> dict:
    return {**row, "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat()}


def _not_found(request_id: int) -> ApiError:
    return ApiError(404, "request not found", [detail("id", f"there is no request with id {request_id}")])


@bp.get("")
def list_requests():
    params = validation.list_params()
    with get_db().cursor() as cur:
        cur.execute(queries.COUNT, params)
        total = cur.fetchone()["total"]
        cur.execute(queries.LIST, params)
        items = [_json(row) for row in cur.fetchall()]
    return {"items": items, "total": total, "limit": params["limit"], "offset": params["offset"]}


@bp.post("")
def create_request():
    fields = validation.new_request(validation.json_object())
    # Ask the tasks service before touching the database, so no connection is held while it answers and a
    # TasksUnavailableError (503) leaves nothing written.
    if not task_exists(current_app.config["TASKS_URL"], fields["task_id"], current_app.config["TASKS_TIMEOUT"]):
        raise ApiError(422, "unknown task", [detail("task_id", f"the tasks service has no task {fields['task_id']}")])
    db = get_db()
    with db.cursor() as cur:
        cur.execute(queries.INSERT, fields)
        row = cur.fetchone()
    db.commit()
    return jsonify(_json(row)), 201, {"Location": url_for(".get_request", request_id=row["id"])}


@bp.get("/<request_id>")
def get_request(request_id: str):
    rid = validation.parse_id(request_id)
    with get_db().cursor() as cur:
        cur.execute(queries.GET, (rid,))
        row = cur.fetchone()
    if row is None:
        raise _not_found(rid)
    return _json(row)


@bp.patch("/<request_id>")
def change_status(request_id: str):
    rid = validation.parse_id(request_id)
    new_status = validation.status_change(validation.json_object())
    db = get_db()
    with db.cursor() as cur:
        cur.execute(queries.LOCK_STATUS, (rid,))
        row = cur.fetchone()
        if row is None:
            raise _not_found(rid)
        allowed = TRANSITIONS[row["status"]]
        if new_status not in allowed:
            then = f"it can become {' or '.join(allowed)}" if allowed else "it is final"
            raise ApiError(
                409,
                "invalid status transition",
                [detail("status", f"request {rid} is {row['status']} and cannot become {new_status}; {then}")],
            )
        cur.execute(queries.SET_STATUS, (new_status, rid))
        row = cur.fetchone()
    db.commit()
    return _json(row)


@bp.delete("/<request_id>")
def delete_request(request_id: str):
    rid = validation.parse_id(request_id)
    db = get_db()
    with db.cursor() as cur:
        cur.execute(queries.DELETE, (rid,))
        deleted = cur.rowcount
    db.commit()
    if not deleted:
        raise _not_found(rid)
    return "", 204
