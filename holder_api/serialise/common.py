"""What every resource's JSON shares: how a time is written."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso", "iso_or_none"]


def iso(dt: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (a naive time is written as it is)."""
    return (dt if dt.tzinfo is None else dt.astimezone(UTC)).isoformat().replace("+00:00", "Z")


def iso_or_none(dt: datetime | None) -> str | None:
    return None if dt is None else iso(dt)
