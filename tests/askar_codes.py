"""Askar calls that fail with the wrong error code, as the binding reports them under concurrency.

aries_askar 0.5 reads a failed call's error from a slot shared by every call, so with many calls
in flight a failure can carry another call's code (a replace of a missing row came back as
``SUCCESS``). Tests patch one :class:`aries_askar.Session` method with :func:`garble` to get
such failures on demand.
"""

from __future__ import annotations

from typing import Any

import pytest
from aries_askar import AskarError, AskarErrorCode, Session

__all__ = ["garble"]


def garble(monkeypatch: pytest.MonkeyPatch, method: str, code: AskarErrorCode, *,
           run: bool = True) -> None:
    """Make ``Session.<method>`` fail with ``code``: its own failures (``run``), or every call,
    without touching the store (``run=False``: a failure of the backend itself)."""
    real = getattr(Session, method)

    async def garbled(self: Session, *args: Any, **kwargs: Any) -> Any:
        if not run:
            raise AskarError(code, "garbled")
        try:
            return await real(self, *args, **kwargs)
        except AskarError as exc:
            raise AskarError(code, "garbled") from exc

    monkeypatch.setattr(Session, method, garbled)
