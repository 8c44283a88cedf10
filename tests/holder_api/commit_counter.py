"""Durable commits counted at both stores' real boundaries (for tests and bench/bench_receive.py).

Vault: counted inside aries_askar itself, below every Satchel wrapper — each Askar transaction that
commits (:meth:`aries_askar.Session.commit`, or a transaction closed with autocommit) is one
``"transaction"``; each write on a session that is not a transaction (Askar commits it on its own)
is one commit named by the call (``"insert"``, ``"replace"``, ``"remove"``, ``"remove_all"``, the
key calls); profile creation and removal are ``"create_profile"`` and ``"remove_profile"``. Only
calls that returned are counted (a failed commit made nothing durable). Whatever path reaches
Askar (a repository, a raw session, a script), it is seen.

SQL: every SQLAlchemy transaction that wrote and committed — through the engine's ``commit``
event, or as the ``COMMIT`` statement that ends a SQLite ``BEGIN IMMEDIATE``
(wallet.db.serialised).

``answers``: a path suffix; the counts at the moment each response to such a path starts being
sent are kept in :attr:`Commits.answered` (what the client waited for, apart from work deferred
until after the answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aries_askar
from aiohttp import web
from sqlalchemy import event
from sqlalchemy.engine import Engine

__all__ = ["TRANSACTION", "Commits", "count_commits"]

#: what a committed Askar transaction is counted as
TRANSACTION = "transaction"
#: Session writes Askar commits by themselves when the session is not a transaction
_AUTOCOMMITTED = ("insert", "replace", "remove", "remove_all", "insert_key", "update_key",
                  "remove_key")
_PROFILE_WRITES = ("create_profile", "remove_profile")
_SQL_WRITES = ("INSERT", "UPDATE", "DELETE")


class Commits:
    def __init__(self) -> None:
        self.vault: list[str] = []  # the Askar commits, in order
        self.sql = 0
        #: (Askar commits, SQL commits) when each watched response was sent (see ``answers``)
        self.answered: list[tuple[tuple[str, ...], int]] = []

    @property
    def total(self) -> int:
        return len(self.vault) + self.sql

    def clear(self) -> None:
        self.vault.clear()
        self.sql = 0
        self.answered.clear()


@contextmanager
def count_commits(answers: str | None = None) -> Iterator[Commits]:
    seen = Commits()
    session, store = aries_askar.Session, aries_askar.Store
    patched: list[tuple[type, str, Any]] = []
    send = web.StreamResponse.prepare

    async def prepare(response: web.StreamResponse, request: web.BaseRequest) -> Any:
        if answers is not None and request.path.endswith(answers) and not response.prepared:
            seen.answered.append((tuple(seen.vault), seen.sql))
        return await send(response, request)

    def patch(cls: type, name: str, make: Callable[[Any], Any]) -> None:
        real = getattr(cls, name)
        patched.append((cls, name, real))
        setattr(cls, name, make(real))

    def autocommitted(name: str) -> Callable[[Any], Any]:
        def make(real: Any) -> Any:
            async def counted(self: aries_askar.Session, *args: Any, **kw: Any) -> Any:
                out = await real(self, *args, **kw)
                if not self.is_transaction:
                    seen.vault.append(name)
                return out
            return counted
        return make

    def committed(real: Any) -> Any:
        async def counted(self: aries_askar.Session) -> None:
            await real(self)
            seen.vault.append(TRANSACTION)
        return counted

    def closed(real: Any) -> Any:
        async def counted(self: aries_askar.Session) -> None:
            commits = self.is_transaction and self.autocommit and self.handle is not None
            await real(self)
            if commits:
                seen.vault.append(TRANSACTION)
        return counted

    def profile(name: str) -> Callable[[Any], Any]:
        def make(real: Any) -> Any:
            async def counted(self: aries_askar.Store, *args: Any, **kw: Any) -> Any:
                out = await real(self, *args, **kw)
                seen.vault.append(name)
                return out
            return counted
        return make

    def on_commit(conn: Any) -> None:
        if conn.info.pop("wrote", False):
            seen.sql += 1

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split(None, 1)
        verb = words[0].upper() if words else ""
        if verb in _SQL_WRITES:
            conn.info["wrote"] = True
        elif verb == "COMMIT":
            on_commit(conn)

    for name in _AUTOCOMMITTED:
        patch(session, name, autocommitted(name))
    patch(session, "commit", committed)
    patch(session, "close", closed)
    for name in _PROFILE_WRITES:
        patch(store, name, profile(name))
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "commit", on_commit)
    web.StreamResponse.prepare = prepare  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        web.StreamResponse.prepare = send  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "commit", on_commit)
        for cls, name, real in reversed(patched):
            setattr(cls, name, real)
