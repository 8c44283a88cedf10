"""Askar calls that fail with the wrong error code, as the binding reports them under concurrency.

aries_askar 0.5 reads a failed call's error from a slot shared by every call, so with many calls
in flight a failure can carry another call's code (a replace of a missing row came back as
``SUCCESS``). Tests patch one :class:`aries_askar.Session` method (or one of another Askar class
or module: ``on``) with :func:`garble` to get such failures on demand.
"""

from __future__ import annotations

from typing import Any

import pytest
from aries_askar import AskarError, AskarErrorCode, Session

__all__ = ["garble"]


def garble(monkeypatch: pytest.MonkeyPatch, method: str, code: AskarErrorCode, *,
           run: bool = True, on: Any = Session) -> None:
    """Make ``<on>.<method>`` (an async method or function) fail with ``code``: its own failures
    (``run``), or every call, without touching the store (``run=False``: a failure of the
    backend itself)."""
    real = getattr(on, method)

    async def garbled(*args: Any, **kwargs: Any) -> Any:
        if not run:
            raise AskarError(code, "garbled")
        try:
            return await real(*args, **kwargs)
        except AskarError as exc:
            raise AskarError(code, "garbled") from exc

    monkeypatch.setattr(on, method, garbled)
