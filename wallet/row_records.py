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
from collections.abc import Mapping
from typing import Any

from wallet.crypto import DecryptionFailed, VaultKey

__all__ = ["open_row_record", "seal_row_record"]


def _aad(table: str, row_id: str) -> bytes:
    return b"satchel/row-record/v1\x00" + table.encode() + b"\x00" + row_id.encode()


def seal_row_record(dek: VaultKey, table: str, row_id: str, body: Mapping[str, Any]) -> bytes:
    """``body`` (a JSON object) sealed for the row ``row_id`` of ``table``."""
    plain = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return dek.seal(plain.encode("utf-8"), _aad(table, row_id))


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
