"""Times as the service writes them, in answers and in logs: RFC 3339, UTC, milliseconds, Z (docs/api.md)."""

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """2026-11-29T10:00:00.000Z"""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
