"""Reading an exported consent chain back (GDPR Art. 20, data portability).

Specs: GDPR Art. 20 (a structured, commonly used, machine-readable format, transmitted to another
controller), https://eur-lex.europa.eu/eli/reg/2016/679/oj ; the chain in :mod:`consent.chain`.

Export format ``satchel-consent-chain/v1``: a list of records, oldest first. Each ``entry`` record
holds the chain metadata exactly as stored (``id, seq, at, kind, prev_hash, hash, body_digest,
counterparty_tag``) and the opened ``event``; the last record is the ``head`` (source
``learner_ref``, ``seq``, ``head``, the source's ``signed_head`` JWS and the public ``jwk`` that
signed it).

What an importer can check, and does (all of it, or the import is refused, naming the first bad
entry): every hash recomputes from the metadata, seq runs 1..n, every ``prev_hash`` links, and the
signed head verifies under the enclosed key and names the last entry. What it cannot check without
the source learner's key is that each ``event`` is the plaintext of the sealed body behind
``body_digest``; that part is attested by the exporting service and by the learner who carries it.
The importing ledger then records the import as one ``import`` entry naming the source head and key,
followed by one entry per imported event whose sealed body keeps the source ``id``/``seq``/``hash``
(its ``origin``), so the new chain states verifiably what it took over. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consent.chain import GENESIS, HeadClaims, at_to_us, entry_hash, read_head
from consent.documents import EntryOrigin, Origin
from consent.errors import ImportRejected, InvalidEvent
from consent.events import ConsentEvent, EventKind
from wallet.errors import BadInput
from wallet.jose import PublicJwk, PublicKey, as_public_jwk, jwk_thumbprint, public_key_from_jwk

__all__ = ["EXPORT_FORMAT", "MAX_IMPORT_ENTRIES", "MAX_ORIGIN_DEPTH", "ImportedChain",
           "ImportedEntry", "parse_export", "read_origin"]

EXPORT_FORMAT = "satchel-consent-chain/v1"
MAX_IMPORT_ENTRIES = 100_000
_HEX64 = frozenset("0123456789abcdef")


#: How many times over an entry's ``origin`` may say it was imported (one level per move).
MAX_ORIGIN_DEPTH = 64
_ENTRY_ORIGIN = frozenset({"id", "seq", "hash"})
_IMPORT_ORIGIN = frozenset({"signed_head", "jwk", "learner_ref"})


@dataclass(frozen=True, slots=True)
class ImportedEntry:
    id: str
    seq: int
    at: datetime
    kind: EventKind
    hash: str
    event: ConsentEvent
    origin: Origin | None


@dataclass(frozen=True, slots=True)
class ImportedChain:
    source_ref: str
    entries: tuple[ImportedEntry, ...]
    head: str
    signed_head: str
    jwk: PublicJwk
    key_thumbprint: str


def read_origin(value: object, depth: int = MAX_ORIGIN_DEPTH) -> Origin:
    """An ``origin`` as Satchel writes it (one of the two shapes of :data:`Origin`, exactly
    those members); ``ValueError`` otherwise."""
    if not isinstance(value, Mapping) or depth == 0:
        raise ValueError("origin")
    keys = set(value)
    if keys == _IMPORT_ORIGIN:
        signed, ref = value["signed_head"], value["learner_ref"]
        if not isinstance(signed, str) or not isinstance(ref, str):
            raise ValueError("origin")
        try:
            jwk = as_public_jwk(value["jwk"])
        except BadInput as exc:
            raise ValueError("origin") from exc
        return {"signed_head": signed, "jwk": jwk, "learner_ref": ref}
    if keys not in (_ENTRY_ORIGIN, _ENTRY_ORIGIN | {"origin"}):
        raise ValueError("origin")
    id_, seq, hash_ = value["id"], value["seq"], value["hash"]
    if not (isinstance(id_, str) and isinstance(hash_, str)
            and isinstance(seq, int) and not isinstance(seq, bool)):
        raise ValueError("origin")
    origin: EntryOrigin = {"id": id_, "seq": seq, "hash": hash_}
    if "origin" in value:
        origin["origin"] = read_origin(value["origin"], depth - 1)
    return origin


def _hex64(value: object, what: str, seq: int | None) -> str:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX64:
        raise ImportRejected(f"{what} of entry {seq} is not a SHA-256 hex digest", seq=seq)
    return value


def _str(value: object, what: str, seq: int | None, limit: int = 64) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ImportRejected(f"{what} of entry {seq} is missing or malformed", seq=seq)
    return value


def _entry(record: Mapping[str, Any], source_ref: str, expected_seq: int,
           prev: str) -> tuple[ImportedEntry, str]:
    seq = record.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq != expected_seq:
        raise ImportRejected(f"entry {expected_seq} is missing or out of order", seq=expected_seq)
    entry_id = _str(record.get("id"), "id", seq, 36)
    kind_name = _str(record.get("kind"), "kind", seq, 32)
    if kind_name not in EventKind._value2member_map_ or kind_name == EventKind.ERASURE:
        raise ImportRejected(f"entry {seq} has a kind that cannot be imported", seq=seq)
    try:
        at = datetime.fromisoformat(_str(record.get("at"), "at", seq))
    except ValueError as exc:
        raise ImportRejected(f"at of entry {seq} is not an ISO 8601 time", seq=seq) from exc
    if at.tzinfo is None:
        raise ImportRejected(f"at of entry {seq} has no time zone", seq=seq)
    prev_hash = _hex64(record.get("prev_hash"), "prev_hash", seq)
    digest = _hex64(record.get("body_digest"), "body_digest", seq)
    tag = record.get("counterparty_tag")
    if tag is not None:
        tag = _hex64(tag, "counterparty_tag", seq)
    claimed = _hex64(record.get("hash"), "hash", seq)
    if prev_hash != prev:
        raise ImportRejected(f"entry {seq} does not link to the entry before it", seq=seq)
    computed = entry_hash(learner_ref=source_ref, entry_id=entry_id, seq=seq, prev_hash=prev_hash,
                          kind=kind_name, at_us=at_to_us(at), counterparty_tag=tag,
                          body_digest=digest)
    if computed != claimed:
        raise ImportRejected(f"entry {seq} does not match its hash", seq=seq)
    try:
        origin = None if record.get("origin") is None else read_origin(record["origin"])
    except ValueError as exc:
        raise ImportRejected(f"origin of entry {seq} is malformed", seq=seq) from exc
    try:
        event = ConsentEvent.from_json(record.get("event"), kind=kind_name)
    except InvalidEvent as exc:
        raise ImportRejected(f"event of entry {seq} is not a valid consent event", seq=seq) from exc
    return ImportedEntry(entry_id, seq, at, EventKind(kind_name), computed, event, origin), computed


def parse_export(records: object) -> ImportedChain:
    """Check an exported chain end to end; raise :class:`ImportRejected` at the first fault."""
    if isinstance(records, str | bytes) or not isinstance(records, Sequence) or not records:
        raise ImportRejected("an exported chain is a non-empty list of records")
    if len(records) > MAX_IMPORT_ENTRIES + 1:
        raise ImportRejected("the exported chain is too long")
    head = records[-1]
    if not isinstance(head, Mapping) or head.get("type") != "head":
        raise ImportRejected("the exported chain does not end with its head")
    if head.get("format") != EXPORT_FORMAT:
        raise ImportRejected("unknown export format")
    source_ref = _str(head.get("learner_ref"), "learner_ref", None)
    prev, entries = GENESIS, []
    for index, record in enumerate(records[:-1]):
        if not isinstance(record, Mapping) or record.get("type") != "entry":
            raise ImportRejected(f"record {index} is not an entry", seq=index + 1)
        entry, prev = _entry(record, source_ref, index + 1, prev)
        entries.append(entry)
    jwk = head.get("jwk")
    signed = head.get("signed_head")
    if not isinstance(jwk, Mapping) or not isinstance(signed, str):
        raise ImportRejected("the head record lacks its signed head or key")
    try:
        key = public_key_from_jwk(jwk)
        thumbprint = jwk_thumbprint(jwk)
        public = as_public_jwk(dict(jwk))
    except BadInput as exc:
        raise ImportRejected("the head record's key is not a valid public JWK") from exc

    def resolve(header: Mapping[str, Any]) -> PublicKey:
        if header.get("kid") != thumbprint:
            raise ImportRejected("the signed head names another key")
        return key

    claims = read_head(signed, source_ref, resolve)
    if not isinstance(claims, HeadClaims):
        raise ImportRejected(claims)
    if claims.seq != len(entries) or claims.head != prev or claims.erased:
        seq = len(entries) + 1 if claims.seq > len(entries) else None
        raise ImportRejected("the signed head does not name the last exported entry", seq=seq)
    return ImportedChain(source_ref, tuple(entries), prev, signed, public, thumbprint)
