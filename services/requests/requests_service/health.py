"""GET /health: is this process up, and can it reach its database?"""

import logging

import psycopg2
from flask import Blueprint

from .db import get_db
from .errors import detail

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    try:
        with get_db().cursor() as cur:
            cur.execute("SELECT 1")
    except psycopg2.Error as error:
        log.warning("health: database unreachable: %s", str(error).strip())
        return {
            "status": "unavailable",
            "database": "unreachable",
            "error": "database unavailable",
            "details": [detail(None, "the database cannot be reached")],
        }, 503
    return {"status": "ok", "database": "ok"}
