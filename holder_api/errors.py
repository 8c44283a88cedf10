"""Errors of the HTTP layer itself (rendered like every other :class:`SatchelError`)."""

from __future__ import annotations

from wallet.errors import Unavailable

__all__ = ["Overloaded"]


class Overloaded(Unavailable):
    """The replica's admission queue is full: shed at once, retry after ``retry_after``."""

    code, title = "overloaded", "Service overloaded"
