"""Askar sessions and calls counted inside aries_askar (for tests and bench/bench_receive.py).

Every awaited Askar call is a round trip to Askar's worker thread (docs/architecture.md: about
0.45 ms each on the learner's path): opening a session or transaction, each operation on it
(``fetch``, ``fetch_all``, ``count``, ``insert``, ``replace``, ``remove`` ...), ``commit``,
``rollback`` and ``close``. Counted at :mod:`aries_askar` itself, below every Satchel wrapper, so
whatever path reaches Askar is seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aries_askar import Session
from aries_askar.store import OpenSession

__all__ = ["AskarCalls", "count_askar_calls"]

_OPERATIONS = ("count", "fetch", "fetch_all", "insert", "replace", "remove", "remove_all",
               "fetch_key", "fetch_all_keys", "insert_key", "update_key", "remove_key",
               "commit", "rollback", "close")


class AskarCalls:
    def __init__(self) -> None:
        #: every call in order: ``"session"`` / ``"transaction"`` for an opening, else the
        #: operation's name
        self.calls: list[str] = []

    @property
    def sessions(self) -> int:
        """Sessions and transactions opened."""
        return sum(c in ("session", "transaction") for c in self.calls)

    def __len__(self) -> int:
        return len(self.calls)

    def clear(self) -> None:
        self.calls.clear()


@contextmanager
def count_askar_calls() -> Iterator[AskarCalls]:
    seen = AskarCalls()
    real_open = OpenSession._open

    async def opened(self: OpenSession) -> Any:
        seen.calls.append("transaction" if self.is_transaction else "session")
        return await real_open(self)

    def counted(name: str, real: Any) -> Any:
        async def call(self: Session, *args: Any, **kw: Any) -> Any:
            seen.calls.append(name)
            return await real(self, *args, **kw)
        return call

    reals = {name: getattr(Session, name) for name in _OPERATIONS}
    OpenSession._open = opened  # type: ignore[method-assign]
    for name, real in reals.items():
        setattr(Session, name, counted(name, real))
    try:
        yield seen
    finally:
        OpenSession._open = real_open  # type: ignore[method-assign]
        for name, real in reals.items():
            setattr(Session, name, real)
