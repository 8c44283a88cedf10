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
signed head verifies under the enclosed key and names the last entry. The chain alone does not
bind the opened ``event``: its hashes cover the digest of the *sealed* body, which stays behind.

So the head record also carries a **manifest** (in exports made since manifests were added): a
compact JWS (``typ: consent-chain-manifest+jwt``) signed by the exporting ledger's key over the
source ``learner_ref``, the head (``seq``, ``head``) and, for every entry in order, ``[id, hash,
content_sha256]``, where ``content_sha256`` (:func:`content_digest`) is the SHA-256 of what the
importer takes from the record: the event (its canonical JSON), the ``origin`` and the
``learner_asserted`` flag. The importer recomputes every triple; one that differs, a manifest
that does not verify under the key it names (the importer's own, or the enclosed one), is
refused (``ImportRejected``). What a manifest that verifies is worth depends on its key
(:class:`ImportedChain` ``attestation``):

- ``this_service``: one of the importing ledger's own keys signed it. This service exported that
  chain and its events: they keep the word of this service (``learner_asserted`` only where the
  record says so: an entry this service had itself taken over unverified);
- ``another_bundle``: one of its own keys signed it, for the chain as exported in *another*
  bundle: since the manifest binds the chain to the bundle it was exported in
  (``bundle_keys``, :func:`bundle_keys_digest`: the bundle's passphrase check value and holder
  key ids), a chain lifted out of one learner's export into another's bundle (whose passphrase
  the importer knows) is not this service's word for the importer: every entry learner-asserted.
  What carried the chain is the importer's to say (``carrier_keys`` on the head record, set from
  the bundle it opened, never read from the bundle); a manifest without ``bundle_keys`` (made
  before the binding) is judged as before;
- ``another_service``: the enclosed key signed it (another deployment, a learner moving
  wallets). The bundle is consistent, but nothing this service holds vouches for that key: every
  entry is taken over as **learner-asserted**;
- ``unknown_key``: the manifest names a key the bundle does not carry: it cannot be checked at
  all, which is no better than none: every entry learner-asserted;
- ``none``: no manifest (an export made before manifests existed, or one stripped of it): taken
  over, every entry learner-asserted.

The importing ledger then records the import as one ``import`` entry naming the source head, key and
attestation, followed by one entry per imported event whose sealed body keeps the source
``id``/``seq``/``hash`` (its ``origin``) and whether it is learner-asserted, so the new chain states
verifiably what it took over and on whose word. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from consent.chain import GENESIS, HEAD_ALGS, HeadClaims, at_to_us, entry_hash, read_head
from consent.documents import EntryOrigin, Origin
from consent.errors import ImportRejected, InvalidEvent, ManifestKeyUnknown
from consent.events import ConsentEvent, EventKind
from wallet.crypto import same_text
from wallet.errors import BadInput, SatchelError
from wallet.jose import (
    PublicJwk,
    PublicKey,
    as_public_jwk,
    jwk_thumbprint,
    public_key_from_jwk,
    verify_compact,
)

__all__ = ["EXPORT_FORMAT", "MANIFEST_TYP", "MAX_IMPORT_ENTRIES", "MAX_ORIGIN_DEPTH", "Attestation",
           "ImportedChain", "ImportedEntry", "OwnKey", "bundle_keys_digest", "content_digest",
           "manifest_claims",
           "parse_export", "read_origin"]

EXPORT_FORMAT = "satchel-consent-chain/v1"
MANIFEST_TYP = "consent-chain-manifest+jwt"
MAX_IMPORT_ENTRIES = 100_000
_HEX64 = frozenset("0123456789abcdef")
_CONTENT_DOMAIN = b"satchel/consent-chain/content/v1\x00"
_KEYS_DOMAIN = b"satchel/export-bundle/keys/v1\x00"

#: Whose word the exported events are taken on (module docstring).
Attestation = Literal["this_service", "another_bundle", "another_service", "unknown_key", "none"]
#: The importing ledger's own public key for a ``kid`` (``None``: not one of its keys).
OwnKey = Callable[[str], PublicKey | None]


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
    #: taken over on the learner's word only (nothing this service holds binds its contents)
    learner_asserted: bool = True


@dataclass(frozen=True, slots=True)
class ImportedChain:
    source_ref: str
    entries: tuple[ImportedEntry, ...]
    head: str
    signed_head: str
    jwk: PublicJwk
    key_thumbprint: str
    attestation: Attestation = "none"

    @property
    def learner_asserted(self) -> int:
        """How many of its entries are taken over as learner-asserted."""
        return sum(1 for e in self.entries if e.learner_asserted)


def content_digest(event: ConsentEvent, origin: Origin | None, learner_asserted: bool) -> str:
    """SHA-256 (hex) of what an importer takes from an exported entry besides its chained
    metadata: ``"satchel/consent-chain/content/v1" 0x00 || canonical JSON {event, learner_asserted,
    origin}`` (sorted keys, no spaces, UTF-8; the event as :meth:`ConsentEvent.to_json` gives
    it, so exporter and importer hash the event as parsed, not as spelled)."""
    text = json.dumps({"event": event.to_json(), "learner_asserted": learner_asserted,
                       "origin": origin}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(_CONTENT_DOMAIN + text.encode()).hexdigest()


def bundle_keys_digest(keys: object) -> str:
    """What an export's manifest binds its chain to (``bundle_keys``): SHA-256 (hex) of
    ``"satchel/export-bundle/keys/v1" 0x00 || canonical JSON {check, kids}`` of the bundle's
    ``keys`` section: its passphrase check value (sealed under the export's passphrase with a
    fresh salt: only who holds that passphrase opens it, which an import checks) and its holder
    keys' ids in order. A malformed section digests as it is (the import refuses it anyway)."""
    section = keys if isinstance(keys, Mapping) else {}
    items = section.get("items")
    kids = ([i.get("kid") if isinstance(i, Mapping) else None for i in items]
            if isinstance(items, list) else None)
    text = json.dumps({"check": section.get("check"), "kids": kids}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(_KEYS_DOMAIN + text.encode()).hexdigest()


def manifest_claims(source_ref: str, seq: int, head: str, entries: Sequence[Sequence[str]],
                    issuer: str | None = None, bundle_keys: str | None = None) -> dict[str, Any]:
    """The payload of an export's manifest: ``entries`` as ``[id, hash, content_sha256]``, and
    ``bundle_keys`` (:func:`bundle_keys_digest`) of the bundle it is exported in, if any. No
    time: it states what the chain up to that head holds (and which bundle carries it)."""
    claims: dict[str, Any] = {"sub": source_ref, "seq": seq, "head": head,
                              "entries": [list(e) for e in entries]}
    if issuer:
        claims["iss"] = issuer
    if bundle_keys is not None:
        claims["bundle_keys"] = bundle_keys
    return claims


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
    """The entry (``learner_asserted`` as its record says: the manifest decides after)."""
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
    asserted = record.get("learner_asserted", False)
    if not isinstance(asserted, bool):
        raise ImportRejected(f"learner_asserted of entry {seq} is not a boolean", seq=seq)
    return (ImportedEntry(entry_id, seq, at, EventKind(kind_name), computed, event, origin,
                          asserted), computed)


def _attest(token: object, source_ref: str, entries: Sequence[ImportedEntry], head: str,
            enclosed: tuple[str, PublicKey], own_key: OwnKey | None,
            carrier: object = None) -> Attestation:
    """Check the head record's ``manifest`` against the parsed entries; whose key signed it."""
    if token is None:
        return "none"
    if not isinstance(token, str):
        raise ImportRejected("the head record's manifest is not a compact JWS")
    signer: list[Attestation] = []

    def resolve(header: Mapping[str, Any]) -> PublicKey:
        kid = header.get("kid")
        own = own_key(kid) if own_key is not None and isinstance(kid, str) else None
        if own is not None:
            signer.append("this_service")
            return own
        if kid == enclosed[0]:
            signer.append("another_service")
            return enclosed[1]
        raise ManifestKeyUnknown()

    try:
        parts = verify_compact(token, resolve, allowed_algs=HEAD_ALGS, expected_typ=(MANIFEST_TYP,))
        claims = json.loads(parts.payload)
    except ManifestKeyUnknown:
        # signed by a key the bundle does not carry (the source rotated its key between the
        # head and the manifest, say): nothing here can check it, which is what no manifest
        # is too; refusing would stop nobody (a manifest can be stripped), so learner-asserted
        return "unknown_key"
    except (SatchelError, ValueError, RecursionError) as exc:
        raise ImportRejected("the manifest does not verify") from exc
    listed = claims.get("entries") if isinstance(claims, dict) else None
    if (not isinstance(claims, dict) or claims.get("sub") != source_ref
            or claims.get("seq") != len(entries) or claims.get("head") != head
            or not isinstance(listed, list)):
        raise ImportRejected("the manifest does not name this chain")
    for n, entry in enumerate(entries):
        expected = [entry.id, entry.hash,
                    content_digest(entry.event, entry.origin, entry.learner_asserted)]
        got = listed[n] if n < len(listed) else None
        if not (isinstance(got, list) and len(got) == 3 and all(isinstance(x, str) for x in got)
                and all(same_text(a, b) for a, b in zip(got, expected, strict=True))):
            raise ImportRejected(f"entry {entry.seq} does not match the signed manifest",
                                 seq=entry.seq)
    if len(listed) != len(entries):
        raise ImportRejected("the manifest does not name this chain")
    bound = claims.get("bundle_keys")
    if signer[0] == "this_service" and bound is not None and not (
            isinstance(carrier, str) and same_text(bound, carrier)):
        return "another_bundle"  # lifted out of the bundle it was exported in
    return signer[0]


def parse_export(records: object, *, own_key: OwnKey | None = None) -> ImportedChain:
    """Check an exported chain end to end; raise :class:`ImportRejected` at the first fault.

    ``own_key`` resolves the importing ledger's own keys: a manifest one of them signed attests
    the events (module docstring); without it, every entry is learner-asserted."""
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
    attestation = _attest(head.get("manifest"), source_ref, entries, prev, (thumbprint, key),
                          own_key, head.get("carrier_keys"))
    if attestation != "this_service":  # nothing this service holds vouches for the contents
        entries = [replace(e, learner_asserted=True) for e in entries]
    return ImportedChain(source_ref, tuple(entries), prev, signed, public, thumbprint,
                         attestation)
