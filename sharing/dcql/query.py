"""The DCQL query model and its parser (OpenID4VP 1.0 §6.1-§6.3, §7).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-digital-credentials-query-l

Why a parser of our own: the query comes from an unauthenticated party and drives what the learner
is asked to disclose, so it is turned into frozen typed objects once, with every rule of §6
checked, and the matcher never sees raw JSON. Unknown properties are ignored (§6: "Implementations
MUST ignore any unknown properties"). Size limits bound the work an attacker can ask for.

Decisions where the spec leaves room:
- ``meta`` is required (§6.1) and must be an object; ``vct_values`` (Appendix B.3.5) and
  ``type_values`` (Appendix B.1.1) are checked when present, and an absent one places no type
  constraint (a format we do not know keeps its ``meta`` uninterpreted).
- ``values`` accepts strings, integers and booleans only (§6.3), never floats, null or objects.
- ``trusted_authorities`` is parsed and kept, but not used to filter (see ``match``).
- ``format`` is typed at parse against the formats table (wallet.formats.traits): a wire format
  with its row, or an :class:`UnknownFormat` (``mso_mdoc``, a newer format, ``pdf``, which no
  protocol carries). §6.1 does not limit the identifiers, so an unknown one is valid DCQL: its
  query matches nothing, and a request with no query of a known format is refused as OpenID4VP
  §8.5 says, ``vp_formats_not_supported`` (sharing.oid4vp.request).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sharing.dcql.errors import InvalidDcqlQuery, UnknownCredentialQuery
from wallet.formats.model import ClaimPath, CredentialFormat
from wallet.formats.traits import wire_format
from wallet.jsontext import parse_json

__all__ = [
    "ClaimValue",
    "ClaimsQuery",
    "CredentialQuery",
    "CredentialSetQuery",
    "DcqlQuery",
    "MAX_CLAIMS",
    "MAX_CREDENTIALS",
    "MAX_PATH_LENGTH",
    "QueryFormat",
    "TrustedAuthority",
    "UnknownFormat",
    "parse_dcql_query",
]

#: A value a ``values`` constraint may list (§6.3).
ClaimValue = str | int | bool

MAX_CREDENTIALS = 64
MAX_CLAIMS = 256
MAX_CLAIM_SETS = 64
MAX_PATH_LENGTH = 32
MAX_VALUES = 256
MAX_OPTIONS = 64

_ID = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


class UnknownFormat(str):
    """A credential query's ``format`` with no row in ``wallet.formats.traits.TRAITS``: kept as
    the verifier spelt it (it serialises as that string), matched by no credential."""

    __slots__ = ()


#: A credential query's ``format``: a wire format with its row, or one Satchel does not hold.
QueryFormat = CredentialFormat | UnknownFormat


def query_format(name: str) -> QueryFormat:
    """``name`` typed against the formats table."""
    known = wire_format(name)
    return known if known is not None else UnknownFormat(name)


@dataclass(frozen=True, slots=True)
class ClaimsQuery:
    """One entry of ``claims`` (§6.3): a claims path pointer and an optional value constraint."""

    path: ClaimPath
    id: str | None = None
    values: tuple[ClaimValue, ...] | None = None


@dataclass(frozen=True, slots=True)
class TrustedAuthority:
    """One ``trusted_authorities`` entry (§6.1.1): ``aki``, ``etsi_tl``, ``openid_federation``."""

    type: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """One entry of ``credentials`` (§6.1)."""

    id: str
    format: QueryFormat
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    vct_values: tuple[str, ...] | None = None
    type_values: tuple[tuple[str, ...], ...] | None = None
    claims: tuple[ClaimsQuery, ...] | None = None
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    multiple: bool = False
    require_cryptographic_holder_binding: bool = True
    trusted_authorities: tuple[TrustedAuthority, ...] | None = None


@dataclass(frozen=True, slots=True)
class CredentialSetQuery:
    """One entry of ``credential_sets`` (§6.2): alternative lists of credential query ids."""

    options: tuple[tuple[str, ...], ...]
    required: bool = True


@dataclass(frozen=True, slots=True)
class DcqlQuery:
    """A validated DCQL query (§6)."""

    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.credentials)

    def credential(self, query_id: str) -> CredentialQuery:
        """The credential query with this id; :class:`UnknownCredentialQuery` otherwise."""
        for cq in self.credentials:
            if cq.id == query_id:
                return cq
        raise UnknownCredentialQuery("no credential query has this id")

    @property
    def formats(self) -> frozenset[QueryFormat]:
        return frozenset(c.format for c in self.credentials)

    @property
    def known_formats(self) -> frozenset[CredentialFormat]:
        """The formats asked for that have a row (wallet.formats.traits): none, and nothing
        in the wallet can answer (OpenID4VP §8.5 ``vp_formats_not_supported``)."""
        return frozenset(f for f in self.formats if not isinstance(f, UnknownFormat))


def _fail(where: str, what: str) -> InvalidDcqlQuery:
    return InvalidDcqlQuery(f"DCQL {where}: {what}", pointer=where)


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, "must be an object")
    return value


def _list(value: Any, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _fail(where, "must be a non-empty array")
    if len(value) > limit:
        raise _fail(where, f"has more than {limit} entries")
    return value


def _bool(value: Any, where: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(where, "must be a boolean")
    return value


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > 256 or not _ID.fullmatch(value):
        raise _fail(where, "must be a non-empty string of A-Z, a-z, 0-9, '_' or '-'")
    return value


def _strings(value: Any, where: str, limit: int) -> tuple[str, ...]:
    items = _list(value, where, limit)
    if not all(isinstance(s, str) for s in items):
        raise _fail(where, "must contain strings only")
    return tuple(items)


def _path(value: Any, where: str) -> ClaimPath:
    items = _list(value, where, MAX_PATH_LENGTH)
    for i, comp in enumerate(items):
        if comp is None or isinstance(comp, str):
            continue
        if isinstance(comp, int) and not isinstance(comp, bool) and comp >= 0:
            continue
        raise _fail(f"{where}[{i}]", "must be a string, a non-negative integer or null")
    return tuple(items)


def _values(value: Any, where: str) -> tuple[ClaimValue, ...]:
    items = _list(value, where, MAX_VALUES)
    for i, v in enumerate(items):
        if not isinstance(v, str | int):  # bool is an int subclass: accepted on purpose
            raise _fail(f"{where}[{i}]", "must be a string, an integer or a boolean")
    return tuple(items)


def _claims(raw: Any, where: str) -> tuple[ClaimsQuery, ...]:
    out: list[ClaimsQuery] = []
    seen: set[str] = set()
    for i, entry in enumerate(_list(raw, where, MAX_CLAIMS)):
        w = f"{where}[{i}]"
        obj = _obj(entry, w)
        cid = None
        if obj.get("id") is not None:
            cid = _ident(obj["id"], f"{w}.id")
            if cid in seen:
                raise _fail(f"{w}.id", "is used twice in the same claims array")
            seen.add(cid)
        if "path" not in obj:
            raise _fail(f"{w}.path", "is required")
        path = _path(obj["path"], f"{w}.path")
        values = _values(obj["values"], f"{w}.values") if obj.get("values") is not None else None
        out.append(ClaimsQuery(path=path, id=cid, values=values))
    return tuple(out)


def _claim_sets(raw: Any, where: str, claims: tuple[ClaimsQuery, ...] | None
                ) -> tuple[tuple[str, ...], ...]:
    if claims is None:
        raise _fail(where, "must not be present without claims")
    if any(c.id is None for c in claims):
        raise _fail(where, "requires an id on every claims entry")
    known = {c.id for c in claims}
    out: list[tuple[str, ...]] = []
    for i, entry in enumerate(_list(raw, where, MAX_CLAIM_SETS)):
        ids = _strings(entry, f"{where}[{i}]", MAX_CLAIMS)
        unknown = [x for x in ids if x not in known]
        if unknown:
            raise _fail(f"{where}[{i}]", "references a claim id that is not defined")
        out.append(ids)
    return tuple(out)


def _meta(raw: Any, where: str) -> tuple[Mapping[str, Any], tuple[str, ...] | None,
                                         tuple[tuple[str, ...], ...] | None]:
    meta = _obj(raw, where)
    vct = None
    if meta.get("vct_values") is not None:
        vct = _strings(meta["vct_values"], f"{where}.vct_values", MAX_VALUES)
    types = None
    if meta.get("type_values") is not None:
        types = tuple(
            _strings(alt, f"{where}.type_values[{i}]", MAX_VALUES)
            for i, alt in enumerate(_list(meta["type_values"], f"{where}.type_values",
                                          MAX_OPTIONS))
        )
    return MappingProxyType(dict(meta)), vct, types


def _trusted(raw: Any, where: str) -> tuple[TrustedAuthority, ...]:
    out = []
    for i, entry in enumerate(_list(raw, where, MAX_OPTIONS)):
        obj = _obj(entry, f"{where}[{i}]")
        typ = obj.get("type")
        if not isinstance(typ, str) or not typ:
            raise _fail(f"{where}[{i}].type", "must be a non-empty string")
        out.append(TrustedAuthority(typ, _strings(obj.get("values"), f"{where}[{i}].values",
                                                  MAX_VALUES)))
    return tuple(out)


def _credential(raw: Any, where: str) -> CredentialQuery:
    obj = _obj(raw, where)
    qid = _ident(obj.get("id"), f"{where}.id")
    fmt = obj.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise _fail(f"{where}.format", "must be a non-empty string")
    if "meta" not in obj:
        raise _fail(f"{where}.meta", "is required")
    meta, vct, types = _meta(obj["meta"], f"{where}.meta")
    claims = _claims(obj["claims"], f"{where}.claims") if obj.get("claims") is not None else None
    claim_sets = (_claim_sets(obj["claim_sets"], f"{where}.claim_sets", claims)
                  if obj.get("claim_sets") is not None else None)
    trusted = (_trusted(obj["trusted_authorities"], f"{where}.trusted_authorities")
               if obj.get("trusted_authorities") is not None else None)
    return CredentialQuery(
        id=qid,
        format=query_format(fmt),
        meta=meta,
        vct_values=vct,
        type_values=types,
        claims=claims,
        claim_sets=claim_sets,
        multiple=_bool(obj.get("multiple"), f"{where}.multiple", False),
        require_cryptographic_holder_binding=_bool(
            obj.get("require_cryptographic_holder_binding"),
            f"{where}.require_cryptographic_holder_binding", True),
        trusted_authorities=trusted,
    )


def _credential_sets(raw: Any, known: set[str]) -> tuple[CredentialSetQuery, ...]:
    out = []
    for i, entry in enumerate(_list(raw, "credential_sets", MAX_OPTIONS)):
        w = f"credential_sets[{i}]"
        obj = _obj(entry, w)
        if "options" not in obj:
            raise _fail(f"{w}.options", "is required")
        options = []
        for j, opt in enumerate(_list(obj["options"], f"{w}.options", MAX_OPTIONS)):
            ids = _strings(opt, f"{w}.options[{j}]", MAX_CREDENTIALS)
            if any(x not in known for x in ids):
                raise _fail(f"{w}.options[{j}]", "references a credential query id that is not "
                            "defined")
            options.append(ids)
        out.append(CredentialSetQuery(tuple(options),
                                      _bool(obj.get("required"), f"{w}.required", True)))
    return tuple(out)


def parse_dcql_query(raw: Any) -> DcqlQuery:
    """Validate a DCQL query (a JSON object, or its JSON text) into a :class:`DcqlQuery`.

    Raises :class:`InvalidDcqlQuery` (``invalid_request``) for anything §6 does not allow.
    """
    if isinstance(raw, str | bytes):
        raw = parse_json(raw, InvalidDcqlQuery("DCQL query is not valid JSON"))
    obj = _obj(raw, "query")
    creds = tuple(_credential(c, f"credentials[{i}]")
                  for i, c in enumerate(_list(obj.get("credentials"), "credentials",
                                              MAX_CREDENTIALS)))
    ids: set[str] = set()
    for i, cq in enumerate(creds):
        if cq.id in ids:
            raise _fail(f"credentials[{i}].id", "is used by two credential queries")
        ids.add(cq.id)
    sets = (_credential_sets(obj["credential_sets"], ids)
            if obj.get("credential_sets") is not None else None)
    return DcqlQuery(creds, sets)
