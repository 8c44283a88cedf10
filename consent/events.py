"""What one consent-ledger entry says: :class:`EventKind` and :class:`ConsentEvent`.

Specs: GDPR (Regulation (EU) 2016/679) Art. 6(1) lawful bases, Art. 7(1) "the controller shall be
able to demonstrate that the data subject has consented", Art. 9 special categories,
https://eur-lex.europa.eu/eli/reg/2016/679/oj ; OpenID4VP 1.0 §7 (DCQL claims path pointers),
https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#section-7 .

Why it is strict: the ledger is the learner's record of *what* went *where*, and it must never
become a second copy of the credentials. Claims are recorded as DCQL claim paths (arrays of key
names, array indices and ``null``), never as values, so construction refuses anything that looks
like a value where a path belongs (an object with a ``value``, a bare string, a number that is
not an index, a string with spaces, an e-mail address, a date, a URL ...). The heuristics cannot
recognise every value, which is why the whole body is also sealed under the learner's key before
it is stored.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consent.errors import InvalidEvent
from wallet.ports import ActivityKind

__all__ = [
    "DISCLOSURE_KINDS",
    "LEGAL_BASES",
    "ClaimPath",
    "ConsentEvent",
    "DetailValue",
    "EventKind",
    "event_kind",
    "path_label",
]

ClaimPath = tuple[str | int | None, ...]
DetailValue = str | int | bool | None | tuple[str | int | bool | None, ...]


#: Every kind of ledger entry. It is :class:`wallet.ports.ActivityKind`, where the producers in
#: ``wallet`` and ``sharing`` (which may not import ``consent``) name it too: one vocabulary.
EventKind = ActivityKind


def event_kind(raw: str) -> EventKind:
    """``raw`` as an :class:`EventKind`; :class:`InvalidEvent` (400) for a kind the ledger does
    not know (a misspelling, or one named by another release), never a bare ``ValueError``."""
    try:
        return EventKind(raw)
    except ValueError as exc:
        raise InvalidEvent("unknown consent event kind") from exc


#: Kinds where personal data leaves the vault for a third party (receipts: thirdPartyDisclosure).
DISCLOSURE_KINDS: frozenset[EventKind] = frozenset(
    {EventKind.PRESENTATION_SENT, EventKind.SHARE_LINK_CREATED, EventKind.SHARE_LINK_VIEWED}
)

#: GDPR Art. 6(1) lawful bases, by the short names the API uses.
LEGAL_BASES: Mapping[str, str] = {
    "consent": "GDPR Art. 6(1)(a)",
    "contract": "GDPR Art. 6(1)(b)",
    "legal_obligation": "GDPR Art. 6(1)(c)",
    "vital_interests": "GDPR Art. 6(1)(d)",
    "public_task": "GDPR Art. 6(1)(e)",
    "legitimate_interests": "GDPR Art. 6(1)(f)",
}

_MAX_PATHS, _MAX_PATH_LEN, _MAX_NAME = 256, 16, 128
_MAX_IDS, _MAX_ID = 64, 512
_MAX_DETAILS, _MAX_DETAIL_STR, _MAX_DETAIL_LIST = 24, 2048, 32
_MAX_TEXT = 2048
_DETAIL_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
_CATEGORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,127}")
_FORBIDDEN_DETAIL_KEYS = frozenset({"value", "values", "claim_value", "claim_values", "claims"})
# Shapes of values rather than of claim names: e-mail, date/time, phone or plain number, URL,
# anything with whitespace or control characters.
_VALUE_LIKE = (
    re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
    re.compile(r"\d{4}-\d{2}-\d{2}.*"),
    re.compile(r"\+?[\d\s().\-]+"),
    re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://.*"),
    re.compile(r".*[\s\x00-\x1f\x7f].*", re.S),
)


def _check_name(name: str) -> str:
    if not name or len(name) > _MAX_NAME:
        raise InvalidEvent("a claim path element must be a name of 1 to 128 characters")
    if any(p.fullmatch(name) for p in _VALUE_LIKE):
        raise InvalidEvent("a claim path element looks like a claim value, not a claim name")
    return name


def _claim_path(raw: object) -> ClaimPath:
    if isinstance(raw, Mapping):
        raise InvalidEvent("claims are recorded as paths, never as objects carrying values")
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise InvalidEvent("a claim must be a DCQL claim path (an array), not a value")
    if not raw or len(raw) > _MAX_PATH_LEN:
        raise InvalidEvent("a claim path must have 1 to 16 elements")
    out: list[str | int | None] = []
    for element in raw:
        if element is None:
            out.append(None)
        elif isinstance(element, bool) or isinstance(element, float):
            raise InvalidEvent("a claim path element must be a name, an index or null")
        elif isinstance(element, int):
            if element < 0:
                raise InvalidEvent("a claim path index must not be negative")
            out.append(element)
        elif isinstance(element, str):
            out.append(_check_name(element))
        else:
            raise InvalidEvent("a claim path element must be a name, an index or null")
    return tuple(out)


def _strings(raw: object, what: str, pattern: re.Pattern[str] | None = None) -> tuple[str, ...]:
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise InvalidEvent(f"{what} must be a list of strings")
    if len(raw) > _MAX_IDS:
        raise InvalidEvent(f"{what} has too many members")
    out = []
    for item in raw:
        if not isinstance(item, str) or not item or len(item) > _MAX_ID:
            raise InvalidEvent(f"{what} must hold non-empty strings of bounded length")
        if pattern is not None and not pattern.fullmatch(item):
            raise InvalidEvent(f"{what} must hold category names, not free text")
        if any(c.isspace() for c in item):
            raise InvalidEvent(f"{what} must not contain whitespace")
        out.append(item)
    return tuple(out)


def _scalar(value: object) -> str | int | bool | None:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str) and len(value) <= _MAX_DETAIL_STR:
        return value
    raise InvalidEvent("details values must be short strings, integers, booleans or null")


def _details(raw: object) -> dict[str, DetailValue]:
    if not isinstance(raw, Mapping):
        raise InvalidEvent("details must be an object")
    if len(raw) > _MAX_DETAILS:
        raise InvalidEvent("details has too many members")
    out: dict[str, DetailValue] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _DETAIL_KEY.fullmatch(key):
            raise InvalidEvent("details keys must be short identifiers")
        if key.lower() in _FORBIDDEN_DETAIL_KEYS:
            raise InvalidEvent("details must not carry claims or claim values")
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            if len(value) > _MAX_DETAIL_LIST:
                raise InvalidEvent("details lists are bounded")
            out[key] = tuple(_scalar(v) for v in value)
        else:
            out[key] = _scalar(value)
    return out


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise InvalidEvent(f"{what} must be a string of at most {_MAX_TEXT} characters")
    return value


def path_label(path: Sequence[str | int | None], any_index: str = "[]") -> str:
    """A readable label for a claim path: ``["degrees", null, "type"]`` → ``degrees[].type``
    (``any_index`` stands for the null that selects every element)."""
    label = ""
    for element in path:
        if isinstance(element, str):
            label += ("." if label else "") + element
        else:
            label += any_index if element is None else f"[{element}]"
    return label


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One thing that happened to the learner's data, as the ledger records it (sealed).

    ``counterparty`` is the verifier's full ``client_id`` or the institution's identifier;
    ``claims`` are DCQL claim paths; ``details`` is a small map of non-value metadata (ids, counts,
    flags). ``policy_url`` and ``sensitive`` (GDPR Art. 9 data) feed consent receipts.
    """

    kind: EventKind
    counterparty: str | None = None
    counterparty_name: str | None = None
    purpose: str | None = None
    legal_basis: str = "consent"
    claims: tuple[ClaimPath, ...] = ()
    credential_ids: tuple[str, ...] = ()
    data_categories: tuple[str, ...] = ()
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    policy_url: str | None = None
    sensitive: bool = False

    def __post_init__(self) -> None:
        kind = event_kind(self.kind)
        if self.legal_basis not in LEGAL_BASES:
            raise InvalidEvent("legal_basis must be one of the GDPR Art. 6(1) bases")
        if isinstance(self.claims, str | bytes) or not isinstance(self.claims, Sequence):
            raise InvalidEvent("claims must be a list of claim paths")
        if len(self.claims) > _MAX_PATHS:
            raise InvalidEvent("too many claim paths")
        if not isinstance(self.sensitive, bool):
            raise InvalidEvent("sensitive must be a boolean")
        counterparty = _text(self.counterparty, "counterparty")
        if counterparty is not None and not counterparty:
            raise InvalidEvent("counterparty must not be empty")
        values: dict[str, Any] = {
            "kind": kind,
            "counterparty": counterparty,
            "counterparty_name": _text(self.counterparty_name, "counterparty_name"),
            "purpose": _text(self.purpose, "purpose"),
            "claims": tuple(_claim_path(p) for p in self.claims),
            "credential_ids": _strings(self.credential_ids, "credential_ids"),
            "data_categories": _strings(self.data_categories, "data_categories", _CATEGORY),
            "details": _details(self.details),
            "policy_url": _text(self.policy_url, "policy_url"),
        }
        if values["policy_url"] is not None and not values["policy_url"].startswith("https://"):
            raise InvalidEvent("policy_url must be an https URL")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object (paths as arrays); ``kind`` included."""
        return {
            "kind": self.kind.value,
            "counterparty": self.counterparty,
            "counterparty_name": self.counterparty_name,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "claims": [list(p) for p in self.claims],
            "credential_ids": list(self.credential_ids),
            "data_categories": list(self.data_categories),
            "details": {k: list(v) if isinstance(v, tuple) else v for k, v in self.details.items()},
            "policy_url": self.policy_url,
            "sensitive": self.sensitive,
        }

    @classmethod
    def from_json(cls, obj: object, *, kind: str | None = None) -> ConsentEvent:
        """Rebuild (and re-validate) an event from :meth:`to_json` output."""
        if not isinstance(obj, Mapping):
            raise InvalidEvent("a consent event must be an object")
        known = {"kind", "counterparty", "counterparty_name", "purpose", "legal_basis", "claims",
                 "credential_ids", "data_categories", "details", "policy_url", "sensitive"}
        if set(obj) - known:
            raise InvalidEvent("a consent event carries unknown members")
        raw_kind = kind if kind is not None else obj.get("kind")
        if not isinstance(raw_kind, str):
            raise InvalidEvent("a consent event needs a kind")
        if kind is not None and obj.get("kind", kind) != kind:
            raise InvalidEvent("the event kind does not match the entry kind")
        return cls(
            kind=event_kind(raw_kind),
            counterparty=obj.get("counterparty"),
            counterparty_name=obj.get("counterparty_name"),
            purpose=obj.get("purpose"),
            legal_basis=obj.get("legal_basis", "consent"),
            claims=obj.get("claims", ()),
            credential_ids=obj.get("credential_ids", ()),
            data_categories=obj.get("data_categories", ()),
            details=obj.get("details", {}),
            policy_url=obj.get("policy_url"),
            sensitive=obj.get("sensitive", False),
        )
