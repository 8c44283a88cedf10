"""A learner's own record of a row in the accounts database, sealed into that row.

Pure: JSON and the vault key's AEAD only.

Why in the row and not in the vault: an inbox link's label and what a share link's list shows
were vault records, written in a vault transaction of their own before the link's row (which
commits with its ledger entry, docs/consent.md). Sealed into the row instead, the record, the row
and the entry are one SQL transaction: one durable commit, and a record can never outlive its
row, nor a row lack its record. Nothing readable is stored: the record is sealed
(XChaCha20-Poly1305) under the learner's vault key, with associated data naming the table and the
row id (a value copied into another row does not open), and the vault key itself exists only
while the learner is unlocked and is crypto-shredded by erasure (docs/architecture.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from wallet.crypto import DecryptionFailed, VaultKey
from wallet.errors import BadInput
from wallet.jsontext import json_bytes

log = logging.getLogger(__name__)

__all__ = ["open_row_record", "open_row_records", "seal_row_record"]


def _aad(table: str, row_id: str) -> bytes:
    return b"satchel/row-record/v1\x00" + table.encode() + b"\x00" + row_id.encode()


def seal_row_record(dek: VaultKey, table: str, row_id: str, body: Mapping[str, Any]) -> bytes:
    """``body`` (a JSON object) sealed for the row ``row_id`` of ``table``; :class:`BadInput`
    if it is no JSON or holds text UTF-8 cannot encode (a lone surrogate)."""
    return dek.seal(json_bytes(body, BadInput("a row record must be JSON of Unicode text")),
                    _aad(table, row_id))


def open_row_record(dek: VaultKey, table: str, row_id: str, sealed: bytes) -> dict[str, Any]:
    """The record :func:`seal_row_record` sealed; :class:`DecryptionFailed` if it does not
    open or is not a JSON object."""
    try:
        body = json.loads(dek.open(bytes(sealed), _aad(table, row_id)))
    except ValueError as exc:
        raise DecryptionFailed("a sealed row record is malformed") from exc
    if not isinstance(body, dict):
        raise DecryptionFailed("a sealed row record is malformed")
    return body


async def open_row_records(
        dek: VaultKey, table: str, sealed: Mapping[str, bytes | None],
        earlier: Callable[[], Awaitable[Iterable[tuple[str, dict[str, Any]]]]],
        what: str) -> dict[str, dict[str, Any]]:
    """The record of each row that can be read, by row id: opened from the row, or, for rows
    written before the records moved into the rows (``sealed`` None), from ``earlier`` (the
    vault's records, read only if such a row exists). A record that does not open is left out
    and logged without any id or content (``what`` names the kind): its row is still listed
    by id and can still be revoked, and one bad row never stops a list."""
    out: dict[str, dict[str, Any]] = {}
    for row_id, blob in sealed.items():
        if blob is not None:
            try:
                out[row_id] = open_row_record(dek, table, row_id, blob)
            except DecryptionFailed:
                log.warning("a record sealed into a row does not open; listed by its id",
                            extra={"kind": what})
    if any(blob is None for blob in sealed.values()):
        try:
            vault_records = list(await earlier())
        except DecryptionFailed:
            log.warning("records kept in the vault do not open; listed by id",
                        extra={"kind": what})
            vault_records = []
        out |= {i: r for i, r in vault_records
                if i in sealed and i not in out}
    return out
