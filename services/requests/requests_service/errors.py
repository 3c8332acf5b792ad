"""Every error answers JSON `{ "error": message, "details": [ { "field"?, "message" } ], "details_omitted"? }`, never an
HTML page, and never much larger than the request that caused it: at most DETAILS_MAX details, each of bounded size."""

import json
import logging

import psycopg2
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from .db import OutcomeUnknown
from .tasks import TasksUnavailableError

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
DETAILS_MAX = 20
# Characters of a field name or a message kept in a detail: either may quote the request (an unknown field's name).
FIELD_MAX = 100
MESSAGE_MAX = 300


class ApiError(Exception):
    """An error answer raised from a view: status code, a one-line message and per-field details."""

    def __init__(self, status: int, error: str, details: list[dict] | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = details or []


def detail(field: str | None, message: str) -> dict:
    return {"field": field, "message": message} if field else {"message": message}


def error_json(error: str, details: list[dict] | None = None) -> bytes:
    """The error body, as the app and the gunicorn worker (worker.py) both send it: the first DETAILS_MAX details,
    and how many more there were in `details_omitted`."""
    details = details or []
    body = {"error": error, "details": [_bounded(d) for d in details[:DETAILS_MAX]]}
    if len(details) > DETAILS_MAX:
        body["details_omitted"] = len(details) - DETAILS_MAX
    # ASCII escapes: a detail may quote input, and a lone surrogate (valid JSON) has no UTF-8 encoding.
    return json.dumps(body).encode()


def _bounded(entry: dict) -> dict:
    return {key: _shortened(value, FIELD_MAX if key == "field" else MESSAGE_MAX) for key, value in entry.items()}


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_response(status: int, error: str, details: list[dict] | None = None) -> Response:
    return Response(error_json(error, details), status, content_type=JSON_TYPE)


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(e: ApiError):
        return error_response(e.status, e.error, e.details)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # Keep werkzeug's status and headers (Allow on a 405), swap the HTML body for JSON.
        response = e.get_response()
        response.set_data(error_json(e.name.lower(), [detail(None, e.description)]))
        response.content_type = JSON_TYPE
        return response

    @app.errorhandler(TasksUnavailableError)
    def tasks_unavailable(e: TasksUnavailableError):
        return error_response(
            503, "tasks service unavailable", [detail("task_id", f"{e}; nothing was changed, try again later")]
        )

    @app.errorhandler(OutcomeUnknown)
    def outcome_unknown(e: OutcomeUnknown):
        log.warning("outcome unknown: %s", e.cause)
        return error_response(503, "outcome unknown", [detail(None, e.advice)])

    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(psycopg2.InterfaceError)
    def database_unavailable(e: psycopg2.Error):
        log.warning("database unavailable: %s", str(e).strip())
        return error_response(
            503,
            "database unavailable",
            [detail(None, "the database cannot be reached; nothing was changed, try again later")],
        )

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal error")
