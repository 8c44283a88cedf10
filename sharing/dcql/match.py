"""Matching a DCQL query against the learner's credentials (OpenID4VP 1.0 §6.4).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-selecting-claims-and-creden

Why the output is so explicit: the response builder must never send a claim that was not selected
(§6.4: "Wallets MUST NOT send selectively disclosable claims that have not been selected"). Every
option therefore carries the exact claims and SD-JWT disclosure paths to reveal
(:mod:`~sharing.dcql.option`), and the presentation code reveals those and nothing else.

Why it is fast (10,000 credentials well under 50 ms, ``bench/bench_dcql.py``): each credential
query is compiled once (:mod:`~sharing.dcql.plan`), candidates are grouped by format (and by type
when several ``vct_values`` queries share a format), the type and holder-binding checks run before
any claim is walked, and a matching candidate costs one small option object that builds its claims
and disclosures on first use.

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
issuer trust itself. Only the ``aki`` type is evaluated, against the AKIs of the carried
certificates the credential's verified signature chains through (recorded at intake): a
candidate none of whose AKIs is listed is dropped, and one with no such certificate (a did: or
issuer-metadata key, an unreadable ``x5c``) has none, so it is dropped too
(docs/presenting.md). ``etsi_tl`` and ``openid_federation`` are not evaluated, nor are
candidates whose AKIs are unknown (stored before intake recorded them); ``QueryMatch.notes``
says so when that happened.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sharing.dcql.option import CredentialOption, SelectedClaim
from sharing.dcql.plan import QueryPlan
from sharing.dcql.query import CredentialQuery, DcqlQuery, QueryFormat, UnknownFormat
from wallet.formats.model import CheckedCredential, ClaimPath, StoredFormat
from wallet.formats.traits import SD_JWT_FORMATS, TRAITS, W3C_FORMATS, Family

__all__ = [
    "SD_JWT_FORMATS",
    "W3C_FORMATS",
    "Candidate",
    "CredentialOption",
    "CredentialSetMatch",
    "MatchResult",
    "QueryMatch",
    "SelectedClaim",
    "known_akis",
    "match_query",
]

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
    #: base64url AuthorityKeyIdentifier key ids of the carried certificates the credential's
    #: verified signature chains through (empty: none); None: unknown.
    authority_key_ids: frozenset[str] | None = None

    @classmethod
    def from_checked(cls, credential_id: str, cred: CheckedCredential) -> Candidate:
        """A candidate from a verified credential; holder-bound when it names a holder key."""
        return cls(credential_id, cred.format, frozenset(cred.types), cred.claims,
                   frozenset(cred.disclosable), cred.holder_jwk is not None,
                   frozenset(cred.authority_key_ids()))


def known_akis(data: Mapping[str, object]) -> frozenset[str] | None:
    """The ``authority_key_ids`` intake recorded in a stored credential's ``data``.

    Absent (stored before intake recorded them) or malformed: None, unknown. ``null`` was
    written only for an ``x5c`` that could not be read, so nothing chains to it: empty."""
    if "authority_key_ids" not in data:
        return None
    stored = data["authority_key_ids"]
    if stored is None:
        return frozenset()
    if not isinstance(stored, list) or not all(isinstance(k, str) for k in stored):
        return None
    return frozenset(stored)


@dataclass(frozen=True, slots=True)
class QueryMatch:
    """The candidates for one credential query, in the order they were given."""

    query_id: str
    format: QueryFormat
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


def _family(cq: CredentialQuery) -> Family | None:
    """The family of the query's format (its row), None for a format without one."""
    return None if isinstance(cq.format, UnknownFormat) else TRAITS[cq.format].family


def _w3c_filter(cq: CredentialQuery) -> Callable[[Candidate], bool] | None:
    """``meta.type_values`` of a W3C query as a predicate (sets built once per query)."""
    if _family(cq) != "w3c" or cq.type_values is None:
        return None
    alternatives = [frozenset(alt) for alt in cq.type_values]

    def w3c(cand: Candidate) -> bool:
        have = cand.types if isinstance(cand.types, frozenset | set) else set(cand.types)
        return any(alt <= have for alt in alternatives)
    return w3c


def _vct_values(cq: CredentialQuery) -> frozenset[str] | None:
    """``meta.vct_values`` of an SD-JWT VC query, or None when it places no constraint."""
    if _family(cq) == "sd_jwt" and cq.vct_values is not None:
        return frozenset(cq.vct_values)
    return None


def _aki_values(cq: CredentialQuery) -> frozenset[str] | None:
    """The ``aki`` values to require, or None when ``trusted_authorities`` cannot be judged by
    AKI alone (absent, or another type that might admit any credential)."""
    tas = cq.trusted_authorities
    if not tas or any(ta.type != "aki" for ta in tas):
        return None
    return frozenset(v for ta in tas for v in ta.values)


def _formats(cq: CredentialQuery, legacy_sd_jwt: bool) -> list[StoredFormat]:
    """The stored formats a query looks at: none for a format without a row."""
    if isinstance(cq.format, UnknownFormat):
        return []
    if legacy_sd_jwt and TRAITS[cq.format].family == "sd_jwt":
        return sorted(SD_JWT_FORMATS)
    return [cq.format]


class _Vault:
    """The candidates grouped by format, in the order given, and, for a format that several
    ``vct_values`` queries look at, indexed by type (built once, when the first of them runs:
    one pass over the format's candidates instead of one per query). A query listing many
    types scans instead, since merging many buckets costs about as much."""

    __slots__ = ("by_format", "by_type", "vct_queries")

    def __init__(self, candidates: Iterable[Candidate], queries: Iterable[CredentialQuery],
                 legacy_sd_jwt: bool) -> None:
        self.by_format: dict[str, list[Candidate]] = {}
        for cand in candidates:
            self.by_format.setdefault(cand.format, []).append(cand)
        self.vct_queries: dict[str, int] = {}
        for cq in queries:
            if _vct_values(cq) is not None:
                for fmt in _formats(cq, legacy_sd_jwt):
                    self.vct_queries[fmt] = self.vct_queries.get(fmt, 0) + 1
        self.by_type: dict[str, dict[str, list[int]]] = {}

    def of(self, fmt: str, vcts: frozenset[str] | None) -> Iterable[Candidate]:
        """The candidates of ``fmt`` that may have one of ``vcts`` (all of them when None), in
        the order given; the caller still checks the type."""
        cands = self.by_format.get(fmt, [])
        if vcts is None or self.vct_queries.get(fmt, 0) < 2 or len(vcts) > 8:
            return cands
        index = self.by_type.get(fmt)
        if index is None:
            index = self.by_type[fmt] = {}
            for pos, cand in enumerate(cands):
                for typ in cand.types:
                    bucket = index.setdefault(typ, [])
                    if not bucket or bucket[-1] != pos:  # types may list one twice
                        bucket.append(pos)
        hits = [index[v] for v in vcts if v in index]
        positions = hits[0] if len(hits) == 1 else sorted({p for h in hits for p in h})
        return [cands[p] for p in positions]


def match_query(query: DcqlQuery, candidates: Iterable[Candidate], *,
                legacy_sd_jwt: bool = False) -> MatchResult:
    """Evaluate ``query`` against the learner's ``candidates`` (pure, no I/O)."""
    vault = _Vault(candidates, query.credentials, legacy_sd_jwt)
    queries: dict[str, QueryMatch] = {}
    for cq in query.credentials:
        options = []
        plan = QueryPlan(cq)
        vcts, w3c = _vct_values(cq), _w3c_filter(cq)
        need_binding = cq.require_cryptographic_holder_binding
        akis = _aki_values(cq)
        judged = akis is not None or not cq.trusted_authorities
        for fmt in _formats(cq, legacy_sd_jwt):
            selective = TRAITS[fmt].selective
            for cand in vault.of(fmt, vcts):
                if need_binding and not cand.holder_bound:
                    continue
                if vcts is not None and vcts.isdisjoint(cand.types):
                    continue
                if w3c is not None and not w3c(cand):
                    continue
                if akis is not None:
                    if cand.authority_key_ids is None:
                        judged = False
                    elif akis.isdisjoint(cand.authority_key_ids):
                        continue
                opt = plan.option(cand.credential_id, cand.claims,
                                  cand.disclosable if selective else None)
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
