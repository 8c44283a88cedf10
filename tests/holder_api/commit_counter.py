"""Durable commits counted at both stores (for tests and bench/bench_receive.py).

Counted: every Askar write (a single write is its own transaction; ``apply`` is one transaction)
and every SQLAlchemy transaction that wrote and committed — through the ``commit`` event, or as
the ``COMMIT`` statement that ends a SQLite ``BEGIN IMMEDIATE`` (wallet.db.serialised).

``answers``: a path suffix; the counts at the moment each response to such a path starts being
sent are kept in :attr:`Commits.answered` (what the client waited for, apart from work deferred
until after the answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from sqlalchemy import event
from sqlalchemy.engine import Engine

from wallet.vault.askar import AskarRecordStore

__all__ = ["Commits", "count_commits"]

_VAULT_WRITES = ("insert", "replace", "upsert", "remove", "apply")
_SQL_WRITES = ("INSERT", "UPDATE", "DELETE")


class Commits:
    def __init__(self) -> None:
        self.vault: list[str] = []  # the Askar calls, in order
        self.sql = 0
        #: (Askar calls, SQL commits) when each watched response was sent (see ``answers``)
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
    originals = {name: getattr(AskarRecordStore, name) for name in _VAULT_WRITES}
    send = web.StreamResponse.prepare

    async def prepare(response: web.StreamResponse, request: web.BaseRequest) -> Any:
        if answers is not None and request.path.endswith(answers) and not response.prepared:
            seen.answered.append((tuple(seen.vault), seen.sql))
        return await send(response, request)

    def counting(name: str, real: Any) -> Any:
        def counted(self: Any, *args: Any) -> Any:
            seen.vault.append(name)
            return real(self, *args)
        return counted

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

    for name, real in originals.items():
        setattr(AskarRecordStore, name, counting(name, real))
    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "commit", on_commit)
    web.StreamResponse.prepare = prepare  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        web.StreamResponse.prepare = send  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "commit", on_commit)
        for name, real in originals.items():
            setattr(AskarRecordStore, name, real)
