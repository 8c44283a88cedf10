"""The one clock: every service that reads the time is handed a :class:`Clock`.

A clock returns an aware UTC ``datetime``. Production wires :data:`SYSTEM_CLOCK`; tests hand in a
:class:`ManualClock` and move it, instead of patching a service's private attribute. Durations
measured on the monotonic clock (a fetch's elapsed time) are not readings of the time and stay
with ``time.monotonic``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol, overload

__all__ = ["SYSTEM_CLOCK", "Clock", "ManualClock", "SystemClock", "iso"]

Timespec = Literal["auto", "seconds"]


class Clock(Protocol):
    """The current time, as an aware UTC ``datetime``."""

    def __call__(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


SYSTEM_CLOCK: Clock = SystemClock()


class ManualClock:
    """A clock that stands still until it is set or advanced (tests, benchmarks)."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = _utc(at) if at is not None else datetime.now(UTC)

    def __call__(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _utc(at)

    def advance(self, by: timedelta | float) -> None:
        """Move forward by ``by`` (a ``timedelta``, or seconds)."""
        self._at += by if isinstance(by, timedelta) else timedelta(seconds=by)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock reads aware datetimes only")
    return at.astimezone(UTC)


@overload
def iso(at: datetime, *, timespec: Timespec = "auto") -> str: ...
@overload
def iso(at: None, *, timespec: Timespec = "auto") -> None: ...
@overload
def iso(at: datetime | None, *, timespec: Timespec = "auto") -> str | None: ...


def iso(at: datetime | None, *, timespec: Timespec = "auto") -> str | None:
    """``at`` in RFC 3339, UTC written as ``Z`` (a naive ``at`` is taken as UTC; another offset
    is kept as the source gave it); ``None`` stays ``None``."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    # every listed credential writes three times: the keyword-less call is the cheap one
    text = at.isoformat() if timespec == "auto" else at.isoformat(timespec=timespec)
    return text.replace("+00:00", "Z")
