"""Where a learner's personal data lives outside the vault: the registry the GDPR rights walk.

Specs: GDPR Art. 17 (erasure), Art. 15 and 20 (access, portability),
https://eur-lex.europa.eu/eli/reg/2016/679/oj ; docs/consent.md.

Why a registry: features are built in parallel (inbox links, share links, settings ...), each with
its own tables and vault record categories. Erasure must reach *all* of them without
:mod:`consent.rights` knowing every feature. So each feature, in its builder in the composition
root (:mod:`holder_api.compose`), declares what it keeps about a learner:

- ``registry.add_table(table, "learner_id")`` — every row whose column equals the learner id is
  deleted in the same transaction as the account row (SQLAlchemy ``Table`` of the accounts
  database; PRAGMA secure_delete overwrites them on SQLite);
- ``registry.add_eraser(name, fn)`` — ``await fn(learner_id)`` for anything else (caches, files,
  an external service); it must be idempotent, since an erasure that failed half way is retried;
- ``registry.add_withdrawal(kind, fn)`` — a standing consent (``"share_link"``, ``"inbox_link"``)
  the learner can withdraw through ``POST /v1/consent/withdrawals``: ``await fn(learner_id, dek,
  id)`` revokes it (``NotFound`` for an unknown or foreign id) and returns a
  :class:`Withdrawn` naming the counterparty for the ledger's ``consent_withdrawn`` entry.

Vault records (sealed in the learner's Askar profile) need no registration for erasure: the whole
profile is removed, and the erasure key that seals its key wraps is destroyed first. Nor is any
needed for export: what is portable lives in the vault, which the export carries whole (the
bundle's ``records`` member stays empty).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Table

from wallet.crypto import VaultKey
from wallet.errors import BadInput, Conflict

__all__ = ["Eraser", "PersonalDataRegistry", "Withdrawal", "Withdrawn"]

Eraser = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """What the ledger records about a withdrawn standing consent (no claim values)."""

    counterparty: str | None = None
    counterparty_name: str | None = None
    purpose: str | None = None


Withdrawal = Callable[[str, VaultKey, str], Awaitable[Withdrawn]]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadInput("registry names match [a-z][a-z0-9_]{0,31}")
    return name


class PersonalDataRegistry:
    """Filled once by the feature builders of :mod:`holder_api.compose`; read by
    :class:`consent.rights.RightsService`."""

    def __init__(self) -> None:
        self._tables: list[tuple[Table, str]] = []
        self._erasers: dict[str, Eraser] = {}
        self._withdrawals: dict[str, Withdrawal] = {}

    def add_table(self, table: Table, column: str = "learner_id") -> None:
        if column not in table.c:
            raise BadInput(f"table {table.name} has no column {column}")
        if any(t is table and c == column for t, c in self._tables):
            raise Conflict(f"table {table.name} is registered already")
        self._tables.append((table, column))

    def add_eraser(self, name: str, fn: Eraser) -> None:
        if _name(name) in self._erasers:
            raise Conflict(f"eraser {name} is registered already")
        self._erasers[name] = fn

    def add_withdrawal(self, kind: str, fn: Withdrawal) -> None:
        if _name(kind) in self._withdrawals:
            raise Conflict(f"withdrawal {kind} is registered already")
        self._withdrawals[kind] = fn

    @property
    def tables(self) -> tuple[tuple[Table, str], ...]:
        return tuple(self._tables)

    @property
    def erasers(self) -> dict[str, Eraser]:
        return dict(self._erasers)

    @property
    def withdrawals(self) -> dict[str, Withdrawal]:
        return dict(self._withdrawals)
