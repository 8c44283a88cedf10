"""The vault's domain types: what a stored credential is, how to ask for some, how pages work.

Nothing here knows about Askar (ACA-Py passed Askar's tag-query language through its
interfaces and could never change storage). Queries are domain objects; the adapters translate them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    Protocol,
    TypedDict,
    TypeVar,
    cast,
    runtime_checkable,
)

from wallet.crypto import DecryptionFailed
from wallet.errors import BadInput
from wallet.formats.model import StoredFormat, Verification
from wallet.jose import PublicJwk
from wallet.microcred.languages import tagged_texts, text_language
from wallet.microcred.model import ElementsDocument
from wallet.microcred.portfolio import PortfolioRecord

if TYPE_CHECKING:
    from wallet.crypto import VaultKey
    from wallet.vault.learner import LearnerVault

__all__ = [
    "MAX_ID_LENGTH",
    "CredentialData",
    "CredentialListing",
    "CredentialQuery",
    "CredentialSummary",
    "Page",
    "StatusRecord",
    "StoredCredential",
    "VaultBackend",
    "check_id",
    "sort_key",
]

T = TypeVar("T")
MAX_ID_LENGTH = 1024
_SUMMARY_V1 = "s1"  # 11 fields: still read (records written before the two below existed)
_SUMMARY_V2 = "s2"  # v1 + awarding_body, verified: still read
_SUMMARY_V3 = "s3"  # v2 + title_lang, awarding_body_lang


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise BadInput(f"{name} must be a timezone-aware datetime")


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise BadInput(f"{what} must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


class StatusRecord(TypedDict):
    """A :class:`~wallet.formats.model.StatusReference` as a record stores it."""

    kind: Literal["token_status_list", "bitstring_status_list"]
    uri: str
    index: int
    purpose: str | None


class CredentialData(TypedDict, total=False):
    """What intake learnt from a credential, sealed with it (``StoredCredential.data``).

    Every member is optional: a record keeps reading whatever its version wrote (records from
    before ``issuer_jwk``, ``status_refs`` or ``portfolio_items`` lack them; readers fall back).
    Only ``claims`` is arbitrary JSON: the credential's own, as its issuer wrote them.
    """

    claims: dict[str, Any]  # the credential's claims (the VC document for W3C VCs)
    disclosable: list[list[str | int | None]]  # claim paths the holder may withhold (SD-JWT)
    elements: ElementsDocument | None  # the Annex I elements mapped at import
    languages: list[str]  # the languages ``elements`` and ``portfolio_items`` were mapped in
    search_text: str  # what a text query searches besides title, types and issuer
    portfolio_items: list[PortfolioRecord]  # mapped once at import
    holder_jwk: PublicJwk | None  # the key the holder proves possession of (``cnf.jwk``)
    issuer_jwk: PublicJwk | None  # the issuer key intake established: re-verified offline
    status_ref: StatusRecord | None  # the first status entry (records before status_refs)
    status_refs: list[StatusRecord]  # every status entry the credential names
    source: str  # how it arrived: import, oid4vci, inbox, pdf_attachment, ...
    verification: Verification  # the checks at import (and the last status check)
    #: base64url AKIs of the carried x5c certificates its verified signature chains through
    #: ([]: none; absent: unknown; None, written only for an unreadable x5c: none), for
    #: OpenID4VP ``trusted_authorities`` of type ``aki`` (docs/presenting.md)
    authority_key_ids: list[str] | None


@dataclass(frozen=True, slots=True)
class CredentialListing:
    """The fields a list shows and filters on, common to a :class:`StoredCredential` and its
    sealed :class:`CredentialSummary` (in this order, which the summary's stored array keeps)."""

    id: str
    #: a wire name or ``pdf``, stored as its plain string (each has a row in
    #: ``wallet.formats.traits.TRAITS``); a record is read whatever it says, so code that may
    #: meet a newer version's record looks its traits up with ``traits_of``
    format: StoredFormat
    types: tuple[str, ...]
    issuer: str
    title: str | None
    issued_at: datetime | None
    expires_at: datetime | None
    status: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCredential(CredentialListing):
    """A credential as the vault keeps it: the original bytes plus what Satchel learnt from them.

    ``raw`` is the credential exactly as received (SD-JWT, JWT, JSON-LD text), byte for byte; the
    listing fields are derived metadata for listing and matching. ``data`` is what intake learnt
    (:class:`CredentialData`: claims, disclosable paths, verification, elements...).
    Datetimes must be timezone-aware.
    """

    raw: str
    data: CredentialData = field(default_factory=lambda: CredentialData())

    def __post_init__(self) -> None:
        check_id(self.id)
        for name in ("format", "raw", "issuer", "status"):
            if not isinstance(getattr(self, name), str):
                raise BadInput(f"credential {name} must be a string")
        if not isinstance(self.types, tuple) or not all(isinstance(t, str) for t in self.types):
            raise BadInput("credential types must be a tuple of strings")
        if self.title is not None and not isinstance(self.title, str):
            raise BadInput("credential title must be a string")
        _aware(self.issued_at, "issued_at")
        _aware(self.expires_at, "expires_at")
        _aware(self.added_at, "added_at")
        if self.added_at is None:
            raise BadInput("added_at is required")
        if not isinstance(self.data, dict):
            raise BadInput("credential data must be a JSON object")

    # -- serialisation (the plaintext that gets sealed) ----------------------------------------

    def to_bytes(self) -> bytes:
        try:
            return json.dumps({
                "v": 1, "id": self.id, "format": self.format, "raw": self.raw,
                "types": list(self.types), "issuer": self.issuer, "title": self.title,
                "issued_at": _to_stored(self.issued_at), "expires_at": _to_stored(self.expires_at),
                "status": self.status, "added_at": _to_stored(self.added_at), "data": self.data,
            }, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise BadInput("credential data must be JSON-serialisable") from exc

    @classmethod
    def from_bytes(cls, blob: bytes) -> StoredCredential:
        try:
            o = json.loads(blob)
            added = _from_stored(o["added_at"])
            if added is None:
                raise ValueError("added_at")
            return cls(
                id=o["id"], format=o["format"], raw=o["raw"], types=tuple(o["types"]),
                issuer=o["issuer"], title=o["title"], issued_at=_from_stored(o["issued_at"]),
                expires_at=_from_stored(o["expires_at"]), status=o["status"], added_at=added,
                data=o["data"],
            )
        except (ValueError, TypeError, KeyError, BadInput) as exc:
            raise DecryptionFailed("a sealed credential record is malformed") from exc

    def matches_text(self, needle: str) -> bool:
        """Case-insensitive substring over title, types, issuer and ``data['search_text']``."""
        extra = self.data.get("search_text")
        return _matches(needle, self.title, self.issuer, self.types,
                        extra if isinstance(extra, str) else None)

    def summary(self) -> CredentialSummary:
        """What a list shows and filters on, without the raw credential and its claims."""
        extra = self.data.get("search_text")
        body = _awarding_body(self.data.get("elements"))
        title_lang, body_lang = self._languages_of(self.title, body)
        return CredentialSummary(
            id=self.id, format=self.format, types=self.types, issuer=self.issuer,
            title=self.title, issued_at=self.issued_at, expires_at=self.expires_at,
            status=self.status, added_at=self.added_at,
            search_text=extra if isinstance(extra, str) else None,
            awarding_body=body, verified=_verified(self.data.get("verification")),
            title_lang=title_lang, awarding_body_lang=body_lang)

    def _languages_of(self, *texts: str | None) -> list[str | None]:
        """The language each text has among the claims' language-tagged texts (None: untagged),
        preferring the languages the record was mapped in (``data['languages']``)."""
        if not any(texts):
            return [None for _ in texts]
        tags = tagged_texts(self.data.get("claims"))
        mapped = self.data.get("languages")
        preferred = [x for x in mapped if isinstance(x, str)] if isinstance(mapped, list) else []
        return [text_language(t, tags, preferred) for t in texts]


def _awarding_body(elements: object) -> str | None:
    """The first named awarding body of the Annex I elements mapped at import, if any."""
    if not isinstance(elements, dict):
        return None
    element = elements.get("awarding_body")
    bodies = element.get("value") if isinstance(element, dict) else None
    for body in bodies if isinstance(bodies, list) else []:
        name = body.get("name") if isinstance(body, dict) else None
        if isinstance(name, str) and name.strip():
            return name
    return None


def _verified(verification: object) -> str | None:
    """The import checks in one word: ``trusted`` (valid signature, trusted issuer),
    ``untrusted`` (valid signature, issuer not trusted) or the signature result otherwise
    (``no_key``, ``unsupported``, ...); ``None`` when nothing was recorded."""
    if not isinstance(verification, dict):
        return None
    signature = verification.get("signature")
    if not isinstance(signature, str):
        return None
    if signature != "valid":
        return signature
    return "trusted" if verification.get("issuer_trusted") is True else "untrusted"


def _matches(needle: str, title: str | None, issuer: str, types: tuple[str, ...],
             extra: str | None) -> bool:
    hay = [title or "", issuer, *types]
    if extra is not None:
        hay.append(extra)
    n = needle.casefold()
    return any(n in h.casefold() for h in hay)


@dataclass(frozen=True, slots=True)
class CredentialSummary(CredentialListing):
    """The listing fields of a :class:`StoredCredential`, sealed and stored beside it.

    A list opens and parses only these (a few hundred bytes), never the raw credential, its claims
    or micro-credential elements; :meth:`StoredCredential.summary` derives one. ``search_text``
    is ``data['search_text']`` (what ``CredentialQuery.text`` searches besides the fields here).
    ``awarding_body`` is the Annex I awarding body's name and ``verified`` the import checks in
    one word (see :meth:`StoredCredential.summary`); both are ``None`` in v1 summaries.
    ``title_lang`` and ``awarding_body_lang`` are the languages of the title and the awarding
    body's name where the credential tags them (a language map, ``@language``), so that a page
    in another language marks them (``lang``); ``None`` when untagged, and in v1 and v2
    summaries (written before; the list then shows them without ``lang``).
    """

    search_text: str | None = None
    awarding_body: str | None = None
    verified: str | None = None
    title_lang: str | None = None
    awarding_body_lang: str | None = None

    def matches_text(self, needle: str) -> bool:
        """The same search as :meth:`StoredCredential.matches_text`."""
        return _matches(needle, self.title, self.issuer, self.types, self.search_text)

    # Stored as a JSON array (field order below), the cheapest shape to parse for a list.

    def to_bytes(self) -> bytes:
        return json.dumps([
            _SUMMARY_V3, self.id, self.format, list(self.types), self.issuer, self.title,
            _to_stored(self.issued_at), _to_stored(self.expires_at), self.status, _to_stored(self.added_at),
            self.search_text, self.awarding_body, self.verified, self.title_lang,
            self.awarding_body_lang,
        ], separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_bytes(cls, blob: bytes) -> CredentialSummary:
        """Parse a sealed summary's plaintext; anything unexpected is :class:`DecryptionFailed`.

        On every list, once per credential: written for speed (bench/bench_api.py), with the
        same checks as the plain version — a decoder on ``str`` (``json.loads`` on bytes sniffs
        the encoding first), one type test per field, no generators.
        """
        try:
            plain = blob.decode("utf-8")
            fields, end = _raw_decode(plain)  # what Satchel sealed: no surrounding whitespace
            if end != len(plain):
                fields = _decoder.decode(plain)  # the general case decides (it raises)
            if type(fields) is not list:
                raise ValueError("summary")
            version = fields[0] if fields else None
            if version == _SUMMARY_V1:  # no awarding body, verification word, languages
                fields = [*fields, None, None, None, None]
            elif version == _SUMMARY_V2:  # no languages
                fields = [*fields, None, None]
            elif version != _SUMMARY_V3:
                raise ValueError("summary")
            (_, id_, fmt, types, issuer, title, issued, expires, status, added, text, body,
             verified, title_lang, body_lang) = fields
            if not (type(id_) is str and type(fmt) is str and type(issuer) is str
                    and type(status) is str and type(types) is list
                    and (title is None or type(title) is str)
                    and (text is None or type(text) is str)
                    and (body is None or type(body) is str)
                    and (verified is None or type(verified) is str)
                    and (title_lang is None or type(title_lang) is str)
                    and (body_lang is None or type(body_lang) is str)):
                raise ValueError("summary")
            for t in types:
                if type(t) is not str:
                    raise ValueError("summary")
            added_at = _from_stored(added)
            if added_at is None or added_at.utcoffset() is None:
                raise ValueError("summary")
            # kept as stored, whatever its spelling (see CredentialListing.format)
            return cls(id_, cast("StoredFormat", fmt), tuple(types), issuer, title,
                       _from_stored(issued),
                       _from_stored(expires), status, added_at, text, body, verified,
                       title_lang, body_lang)
        except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
            raise DecryptionFailed("a sealed credential summary is malformed") from exc


#: One decoder for every summary (``json.loads`` sniffs the encoding of bytes first).
_decoder = json.JSONDecoder()
_raw_decode = _decoder.raw_decode


def _to_stored(value: datetime | None) -> str | None:
    """A time as records store it: ``isoformat`` (``+00:00``), as every record so far was
    written; what the API shows is :func:`wallet.clock.iso`."""
    return None if value is None else value.isoformat()


def _from_stored(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("datetime")
    return datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """Which credentials to list. Every given field must match (AND); ``None`` means any.

    ``format``, ``type`` and ``issuer`` are exact matches (answered by blinded index tags);
    ``text`` is a case-insensitive substring search done after decryption.
    """

    format: str | None = None
    type: str | None = None
    issuer: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        for name in ("format", "type", "issuer", "text"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or len(v) > 2048):
                raise BadInput(f"query {name} must be a string of at most 2048 characters")

    def fingerprint(self) -> str:
        return json.dumps([self.format, self.type, self.issuer, self.text])


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results; pass ``next_cursor`` back to get the next (``None`` at the end)."""

    items: list[T]
    next_cursor: str | None = None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sort_key(c: StoredCredential | CredentialSummary) -> tuple[int, str]:
    """Newest ``added_at`` first, ties by id (exact: integer microseconds)."""
    return (-((c.added_at - _EPOCH) // timedelta(microseconds=1)), c.id)


@runtime_checkable
class VaultBackend(Protocol):
    """One store holding every learner's vault (one profile per learner)."""

    async def create_profile(self, learner_id: str) -> None: ...

    async def remove_profile(self, learner_id: str) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...

    def for_learner(self, learner_id: str, dek: VaultKey) -> LearnerVault: ...
