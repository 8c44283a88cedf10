"""Reading the W3C VC data model (1.1 and 2.0) out of a credential document, whatever its proof.

Specs: VC Data Model 1.1, https://www.w3.org/TR/vc-data-model/ (§4.5 issuer, §4.6 issuanceDate,
§4.7 expirationDate, §4.9 credentialStatus); VC Data Model 2.0,
https://www.w3.org/TR/vc-data-model-2.0/ (§4.7 issuer, §4.9 validFrom/validUntil, §4.10 status,
§11.1 language maps); W3C Bitstring Status List 1.0 §2.1 (``BitstringStatusListEntry``) and its
predecessor ``StatusList2021Entry``; Open Badges 3.0 §B.1 (achievement name); ELM 3 / EDC
(``displayParameter.title``, ``issued``).

Why: the same credential fields arrive as a string or an object with ``id``, a value or a list,
a literal or a language map (in VCDM values may be an object or an array of objects, and
literals may be language maps: normalise before mapping). Every format module maps through here,
so the learner sees one consistent view. Date checks take an injectable ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from wallet.formats.jsonld.errors import InvalidCredential
from wallet.formats.model import StatusReference

__all__ = [
    "CLOCK_SKEW",
    "VC_CONTEXTS",
    "as_list",
    "date_problems",
    "holder_jwk",
    "issuer_id",
    "lang_text",
    "parse_datetime",
    "status_reference",
    "status_references",
    "title_of",
    "types_of",
    "utc_now",
    "validity_window",
]

CLOCK_SKEW = timedelta(seconds=60)
VC_CONTEXTS = ("https://www.w3.org/2018/credentials/v1", "https://www.w3.org/ns/credentials/v2")
_STATUS_TYPES = ("BitstringStatusListEntry", "StatusList2021Entry")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def types_of(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``type`` values (a string or a list of strings)."""
    values = as_list(doc.get("type"))
    if not values or not all(isinstance(t, str) for t in values):
        raise InvalidCredential("credential type must be a string or a list of strings")
    return tuple(values)


def issuer_id(doc: Mapping[str, Any]) -> str:
    """``issuer`` as a string, or the ``id`` of an issuer object."""
    issuer = doc.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidCredential("credential has no issuer identifier")
    return issuer


def lang_text(value: Any, prefer: tuple[str, ...] = ("en",)) -> str | None:
    """A display string from a literal, a language map, ``@value`` objects or a list of them."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [(v.get("@language"), v.get("@value")) for v in value if isinstance(v, Mapping)]
        for lang in prefer:
            for tag, text in texts:
                if tag == lang and isinstance(text, str):
                    return text
        for v in value:
            text = lang_text(v, prefer)
            if text is not None:
                return text
        return None
    if isinstance(value, Mapping):
        if "@value" in value:
            return lang_text(value.get("@value"), prefer)
        for lang in prefer:
            if isinstance(value.get(lang), str):
                return str(value[lang])
        for text in value.values():
            if isinstance(text, str):
                return text
    return None


def parse_datetime(value: Any) -> datetime:
    """An XML Schema dateTime (VCDM ``dateTimeStamp``); UTC assumed when no offset is given."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise InvalidCredential("credential date is not a dateTime string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidCredential("credential date is not a valid dateTime") from exc
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except OverflowError as exc:
        raise InvalidCredential("credential date is out of range") from exc


def utc_now(now: datetime) -> datetime:
    """The caller's ``now`` as an aware UTC datetime (a naive one is taken as UTC)."""
    if not isinstance(now, datetime):
        raise TypeError("now must be a datetime")
    return now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _first_subject(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    for subject in as_list(doc.get("credentialSubject")):
        if isinstance(subject, Mapping):
            return subject
    return {}


def title_of(doc: Mapping[str, Any]) -> str | None:
    """Achievement name (OB 3.0 / CLR), else credential ``name``, else the EDC display title."""
    subject = _first_subject(doc)
    for achievement in as_list(subject.get("achievement")):
        if isinstance(achievement, Mapping):
            name = lang_text(achievement.get("name"))
            if name:
                return name
    name = lang_text(doc.get("name"))
    if name:
        return name
    display = doc.get("displayParameter")
    if isinstance(display, Mapping):
        return lang_text(display.get("title"))
    return None


def validity_window(
    doc: Mapping[str, Any],
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """``(issued_at, valid_from, expires_at)`` from VCDM 1.1, 2.0 or EDC fields."""
    def get(name: str) -> datetime | None:
        return parse_datetime(doc[name]) if doc.get(name) is not None else None

    issuance = get("issuanceDate")
    issued_at = get("issued") or issuance
    valid_from = get("validFrom") or issuance
    expires_at = get("validUntil") or get("expirationDate")
    return issued_at, valid_from, expires_at


def date_problems(valid_from: datetime | None, expires_at: datetime | None,
                  now: datetime) -> list[str]:
    """``not_yet_valid`` / ``expired`` relative to ``now`` (with a small clock skew)."""
    problems = []
    if valid_from is not None and now + CLOCK_SKEW < valid_from:
        problems.append("not_yet_valid")
    if expires_at is not None and now - CLOCK_SKEW >= expires_at:
        problems.append("expired")
    return problems


def status_references(doc: Mapping[str, Any]) -> tuple[StatusReference, ...]:
    """Every Bitstring / StatusList2021 entry in ``credentialStatus`` (or EDC's ``status``)."""
    refs = []
    for entry in as_list(doc.get("credentialStatus")) + as_list(doc.get("status")):
        if not isinstance(entry, Mapping) or entry.get("type") not in _STATUS_TYPES:
            continue
        uri, index = entry.get("statusListCredential"), entry.get("statusListIndex")
        purpose = entry.get("statusPurpose")
        if isinstance(index, int) and not isinstance(index, bool):
            index = str(index)
        if (not isinstance(uri, str) or not uri or not isinstance(index, str)
                or not index.isascii() or not index.isdigit() or len(index) > 12):
            raise InvalidCredential("status list entry is malformed")
        refs.append(StatusReference("bitstring_status_list", uri, int(index),
                                    purpose if isinstance(purpose, str) else None))
    return tuple(refs)


def status_reference(doc: Mapping[str, Any]) -> StatusReference | None:
    """The entry to show: the ``revocation`` one when there are several, else the first."""
    refs = status_references(doc)
    for ref in refs:
        if ref.purpose == "revocation":
            return ref
    return refs[0] if refs else None


def holder_jwk(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """``cnf.jwk`` (RFC 7800) when the credential binds a holder key that way."""
    cnf = doc.get("cnf")
    if isinstance(cnf, Mapping) and isinstance(cnf.get("jwk"), Mapping):
        return dict(cnf["jwk"])
    return None
