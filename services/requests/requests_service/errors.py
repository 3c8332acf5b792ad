"""Every error answers JSON `{ "error": message, "details": [ { "field"?, "message" } ] }`, never an HTML page."""

import logging

import psycopg2
import psycopg2.pool
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from .tasks import TasksUnavailableError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer raised from a view: status code, a one-line message and per-field details."""

    def __init__(self, status: int, error: str, details: list[dict] | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = details or []


def detail(field: str | None, message: str) -> dict:
    return {"field": field, "message": message} if field else {"message": message}


def error_response(status: int, error: str, details: list[dict] | None = None):
    return jsonify(error=error, details=details or []), status


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(e: ApiError):
        return error_response(e.status, e.error, e.details)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # Keep werkzeug's status and headers (Allow on a 405), swap the HTML body for JSON.
        response = e.get_response()
        response.data = app.json.dumps({"error": e.name, "details": [detail(None, e.description)]})
        response.content_type = "application/json"
        return response

    @app.errorhandler(TasksUnavailableError)
    def tasks_unavailable(e: TasksUnavailableError):
        return error_response(
            503, "tasks service unavailable", [detail("task_id", f"{e}; nothing was written, try again later")]
        )

    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(psycopg2.InterfaceError)
    @app.errorhandler(psycopg2.pool.PoolError)
    def database_unavailable(e: psycopg2.Error):
        log.warning("database unavailable: %s", str(e).strip())
        return error_response(
            503, "database unavailable", [detail(None, "the database cannot be reached; try again later")]
        )

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal error")
