"""Matching a DCQL query against the learner's credentials (OpenID4VP 1.0 §6.4).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-selecting-claims-and-creden

Why the output is so explicit: the response builder must never send a claim that was not selected
(§6.4: "Wallets MUST NOT send selectively disclosable claims that have not been selected"). Every
option therefore carries the exact SD-JWT disclosure paths to reveal, computed here once, and the
presentation code reveals those and nothing else.

Rules applied, in order, per credential query and candidate:
1. ``format`` equal (``vc+sd-jwt`` and ``dc+sd-jwt`` only alike when the legacy setting is on);
2. ``meta.vct_values`` (SD-JWT VC, incl. ``aka_vcts`` in ``Candidate.types``) or
   ``meta.type_values`` (W3C: one inner array ⊆ the credential's types);
3. ``require_cryptographic_holder_binding`` (default true) drops credentials without a holder key;
4. ``claims``: every claim must select something (§7.1.1) and, with ``values``, an exactly equal
   JSON scalar (type and value; ``true`` is not ``1``). With a wildcard path only the matching
   elements are kept. ``claim_sets`` are tried in order and the first satisfiable one wins.
   No ``claims``: nothing selectively disclosable is requested (SD-JWT: only what is always
   visible goes out; other formats: the full credential).
Credential sets (§6.4.2): a set is satisfiable when one option's queries all matched; the request
is satisfiable when every required set is (without sets: when every query matched).

``trusted_authorities`` (§6.1.1) is a SHOULD aimed at data minimisation; the verifier checks
issuer trust itself. Only the ``aki`` type is evaluated, and only for candidates whose
``authority_key_ids`` are known (from the issuer certificate): a known AKI outside the listed
values drops the candidate. ``etsi_tl`` and ``openid_federation`` are not evaluated, nor are
candidates without an issuer certificate; ``QueryMatch.notes`` says so when that happened.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cryptography import x509

from sharing.dcql.path import compile_path, path_overlaps
from sharing.dcql.query import ClaimsQuery, ClaimValue, CredentialQuery, DcqlQuery
from wallet.formats.model import CheckedCredential, ClaimPath

__all__ = [
    "SD_JWT_FORMATS",
    "W3C_FORMATS",
    "Candidate",
    "CredentialOption",
    "CredentialSetMatch",
    "MatchResult",
    "QueryMatch",
    "SelectedClaim",
    "match_query",
]

SD_JWT_FORMATS = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
W3C_FORMATS = frozenset({"jwt_vc_json", "ldp_vc"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """One credential of the learner, as the matcher sees it.

    ``claims`` holds every claim the holder has (for W3C VCs: the VC document, whose root the
    paths start at). ``disclosable`` lists the concrete paths the learner may withhold (SD-JWT
    disclosures); every other claim of an SD-JWT is always visible.
    """

    credential_id: str
    format: str
    types: Collection[str]
    claims: Mapping[str, Any] = field(compare=False, hash=False)
    disclosable: frozenset[ClaimPath] = frozenset()
    holder_bound: bool = False
    #: base64url AuthorityKeyIdentifier key ids of the issuer's certificate chain; None: unknown.
    authority_key_ids: frozenset[str] | None = None

    @classmethod
    def from_checked(cls, credential_id: str, cred: CheckedCredential) -> Candidate:
        """A candidate from a verified credential; holder-bound when it names a holder key."""
        return cls(credential_id, cred.format, frozenset(cred.types), cred.claims,
                   frozenset(cred.disclosable), cred.holder_jwk is not None,
                   _aki(cred.issuer_cert_der))


def _aki(cert_der: bytes | None) -> frozenset[str] | None:
    if cert_der is None:
        return None
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    if aki.key_identifier is None:
        return None
    return frozenset({base64.urlsafe_b64encode(aki.key_identifier).rstrip(b"=").decode()})


class SelectedClaim(NamedTuple):
    """A claim that would be disclosed: its concrete path, value and the query entry asking.
    (A named tuple: one is made per claim per candidate, and matching 10,000 credentials must
    stay cheap.)"""

    path: ClaimPath
    value: Any
    claim_id: str | None = None
    query_path: ClaimPath = ()


class CredentialOption(NamedTuple):
    """One credential able to answer a credential query, and exactly what it would reveal.

    ``disclosure_paths`` are the SD-JWT disclosures to reveal (ancestors needed by recursive
    disclosures included). ``full_credential`` is true for formats without selective disclosure,
    whose presentation carries every claim. (A named tuple: one is made per matching credential.)
    """

    credential_id: str
    claims: tuple[SelectedClaim, ...]
    disclosure_paths: frozenset[ClaimPath]
    claim_set: tuple[str, ...] | None = None
    full_credential: bool = False


@dataclass(frozen=True, slots=True)
class QueryMatch:
    """The candidates for one credential query, in the order they were given."""

    query_id: str
    format: str
    multiple: bool
    require_holder_binding: bool
    options: tuple[CredentialOption, ...]
    notes: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return bool(self.options)

    def option(self, credential_id: str) -> CredentialOption | None:
        for opt in self.options:
            if opt.credential_id == credential_id:
                return opt
        return None


@dataclass(frozen=True, slots=True)
class CredentialSetMatch:
    """One credential set query: which of its options could be answered."""

    index: int
    required: bool
    options: tuple[tuple[str, ...], ...]
    satisfiable_options: tuple[tuple[str, ...], ...]

    @property
    def satisfiable(self) -> bool:
        return bool(self.satisfiable_options)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The whole answer: per query, per credential set, and overall."""

    query: DcqlQuery
    queries: Mapping[str, QueryMatch] = field(compare=False, hash=False)
    credential_sets: tuple[CredentialSetMatch, ...] = ()
    satisfiable: bool = False


def _value_ok(value: Any, allowed: tuple[ClaimValue, ...]) -> bool:
    if isinstance(value, bool):
        return any(isinstance(a, bool) and a is value for a in allowed)
    if isinstance(value, str):
        return value in allowed  # only str can equal a str
    if isinstance(value, int | float):
        return any(not isinstance(a, bool | str) and a == value for a in allowed)
    return False


class _Plan:
    """A claims query compiled once per match: its path walker and value constraint."""

    __slots__ = ("cl", "keys", "walk")

    def __init__(self, cl: ClaimsQuery) -> None:
        self.cl = cl
        self.walk = compile_path(cl.path)
        # object keys only (the common case): walked inline below, no intermediate lists
        self.keys = cl.path if all(type(c) is str for c in cl.path) else None

    def select(self, cand: Candidate) -> tuple[SelectedClaim, ...] | None:
        cl = self.cl
        if self.keys is not None:
            element: Any = cand.claims
            for key in self.keys:
                if type(element) is not dict and not isinstance(element, Mapping):
                    return None
                if key not in element:
                    return None
                element = element[key]
            if cl.values is not None and not _value_ok(element, cl.values):
                return None
            return (SelectedClaim(cl.path, element, cl.id, cl.path),)
        found = self.walk(cand.claims)
        if found is None:
            return None
        if cl.values is not None:
            found = [(p, v) for p, v in found if _value_ok(v, cl.values)]
            if not found:
                return None
        return tuple(SelectedClaim(p, v, cl.id, cl.path) for p, v in found)


def _disclosures(cand: Candidate, claims: Iterable[SelectedClaim]) -> frozenset[ClaimPath]:
    """Every disclosure above a selected claim (recursive disclosures need their parents) and,
    when the claim is an object or array, every disclosure inside it (its value includes them)."""
    sd = cand.disclosable
    if not sd:
        return frozenset()
    out: set[ClaimPath] = set()
    for c in claims:
        p = c.path
        if p in sd:
            out.add(p)
        for k in range(1, len(p)):
            if p[:k] in sd:
                out.add(p[:k])
        if isinstance(c.value, dict | list):
            n = len(p)
            out.update(d for d in sd if len(d) > n and path_overlaps(d, p))
    return frozenset(out)


class _QueryPlan:
    """A credential query compiled once per match (claim walkers, claim ids, dedupe need)."""

    __slots__ = ("by_id", "cq", "dedupe", "plans")

    def __init__(self, cq: CredentialQuery) -> None:
        self.cq = cq
        self.plans = [_Plan(cl) for cl in cq.claims or ()]
        self.by_id = {p.cl.id: p for p in self.plans}
        paths = [p.cl.path for p in self.plans]
        # concrete, distinct paths select distinct claims; wildcards may select one twice
        self.dedupe = len(set(paths)) != len(paths) or any(None in p for p in paths)


def _option(qp: _QueryPlan, cand: Candidate) -> CredentialOption | None:
    cq = qp.cq
    full = cand.format not in SD_JWT_FORMATS
    if cq.claims is None:
        return CredentialOption(cand.credential_id, (), frozenset(), None, full)
    picked: list[SelectedClaim] = []
    chosen_set = None
    if cq.claim_sets is None:
        for plan in qp.plans:
            got = plan.select(cand)
            if got is None:
                return None
            picked.extend(got)
    else:
        cache: dict[str | None, tuple[SelectedClaim, ...] | None] = {}
        for claim_set in cq.claim_sets:  # in order: the first satisfiable set wins
            picked = []
            for cid in claim_set:
                if cid not in cache:
                    cache[cid] = qp.by_id[cid].select(cand)
                got = cache[cid]
                if got is None:
                    break
                picked.extend(got)
            else:
                chosen_set = claim_set
                break
        if chosen_set is None:
            return None
    if qp.dedupe or chosen_set is not None:
        unique: dict[ClaimPath, SelectedClaim] = {}
        for c in picked:  # a claim asked for twice is listed (and disclosed) once
            unique.setdefault(c.path, c)
        claims = tuple(unique.values())
    else:
        claims = tuple(picked)
    return CredentialOption(cand.credential_id, claims,
                            frozenset() if full else _disclosures(cand, claims), chosen_set, full)


def _type_filter(cq: CredentialQuery) -> Callable[[Candidate], bool]:
    """The ``meta`` type constraint of ``cq`` as a predicate (sets built once per query)."""
    if cq.format in SD_JWT_FORMATS and cq.vct_values is not None:
        vcts = frozenset(cq.vct_values)
        return lambda cand: not vcts.isdisjoint(cand.types)
    if cq.format in W3C_FORMATS and cq.type_values is not None:
        alternatives = [frozenset(alt) for alt in cq.type_values]

        def w3c(cand: Candidate) -> bool:
            have = cand.types if isinstance(cand.types, frozenset | set) else set(cand.types)
            return any(alt <= have for alt in alternatives)
        return w3c
    return lambda cand: True


def _aki_values(cq: CredentialQuery) -> frozenset[str] | None:
    """The ``aki`` values to require, or None when ``trusted_authorities`` cannot be judged by
    AKI alone (absent, or another type that might admit any credential)."""
    tas = cq.trusted_authorities
    if not tas or any(ta.type != "aki" for ta in tas):
        return None
    return frozenset(v for ta in tas for v in ta.values)


def _formats(cq: CredentialQuery, legacy_sd_jwt: bool) -> frozenset[str]:
    if legacy_sd_jwt and cq.format in SD_JWT_FORMATS:
        return SD_JWT_FORMATS
    return frozenset({cq.format})


def match_query(query: DcqlQuery, candidates: Iterable[Candidate], *,
                legacy_sd_jwt: bool = False) -> MatchResult:
    """Evaluate ``query`` against the learner's ``candidates`` (pure, no I/O)."""
    by_format: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_format.setdefault(cand.format, []).append(cand)
    queries: dict[str, QueryMatch] = {}
    for cq in query.credentials:
        options = []
        type_ok = _type_filter(cq)
        qp = _QueryPlan(cq)
        need_binding = cq.require_cryptographic_holder_binding
        akis = _aki_values(cq)
        judged = akis is not None or not cq.trusted_authorities
        for fmt in sorted(_formats(cq, legacy_sd_jwt)):
            for cand in by_format.get(fmt, ()):
                if (need_binding and not cand.holder_bound) or not type_ok(cand):
                    continue
                if akis is not None:
                    if cand.authority_key_ids is None:
                        judged = False
                    elif akis.isdisjoint(cand.authority_key_ids):
                        continue
                opt = _option(qp, cand)
                if opt is not None:
                    options.append(opt)
        notes = () if judged else ("trusted_authorities not fully evaluated",)
        queries[cq.id] = QueryMatch(cq.id, cq.format, cq.multiple,
                                    cq.require_cryptographic_holder_binding, tuple(options), notes)
    matched = {qid for qid, qm in queries.items() if qm.options}
    sets = tuple(
        CredentialSetMatch(i, cs.required, cs.options,
                           tuple(opt for opt in cs.options if matched.issuperset(opt)))
        for i, cs in enumerate(query.credential_sets or ())
    )
    if query.credential_sets is None:
        ok = len(matched) == len(queries)
    else:
        ok = all(s.satisfiable for s in sets if s.required)
    return MatchResult(query, queries, sets, ok)
