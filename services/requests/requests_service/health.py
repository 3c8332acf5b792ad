"""GET /health: is this process up, and can it reach its database? And GET /openapi.json, the contract itself."""

import functools
import json
import logging
from pathlib import Path

import psycopg2
from flask import Blueprint, Response

from .db import get_db
from .errors import JSON_TYPE

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

OPENAPI_FILE = Path(__file__).resolve().parents[1] / "openapi.json"


@bp.get("/health")
def health():
    try:
        with get_db().cursor() as cur:
            cur.execute("SELECT 1")
    except psycopg2.Error as error:
        log.warning("health: database unreachable: %s", str(error).strip())
        return {"status": "unavailable", "database": "unreachable", "error": "database unreachable", "details": []}, 503
    return {"status": "ok", "database": "ok"}


@functools.cache
def openapi_document() -> bytes:
    """openapi.json as the service serves it: read once (create_app reads it, so a broken file stops the start)."""
    text = OPENAPI_FILE.read_bytes()
    json.loads(text)
    return text


@bp.get("/openapi.json")
def openapi():
    return Response(openapi_document(), content_type=JSON_TYPE)
