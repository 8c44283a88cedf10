"""What every resource's JSON shares: how a time is written."""

from __future__ import annotations

from datetime import datetime

__all__ = ["iso", "iso_or_none"]


def iso(dt: datetime) -> str:
    """RFC 3339, UTC written as ``Z`` (another offset is kept as the source gave it)."""
    return dt.isoformat().replace("+00:00", "Z")


def iso_or_none(dt: datetime | None) -> str | None:
    return None if dt is None else iso(dt)
