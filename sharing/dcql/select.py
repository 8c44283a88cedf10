"""Turning the learner's choices into the exact set of presentations to build (OpenID4VP 1.0
§6.4.2, §8.1).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-selecting-credentials

The learner picks, per credential query, which of the matching credentials to send. This module
checks that choice against the match result (never trusting the API caller) and fixes what goes
out: a :class:`Selection` names, per credential query, each credential and the disclosure paths
its presentation may reveal. The response builder takes nothing else.

Rules: a choice must name a query of the request and a credential that matched it; more than one
credential only where ``multiple`` is true (§8.1: "the array MUST contain only one
Presentation"); without ``credential_sets`` every query must be answered; with them every required
set must have one option fully answered, and a choice outside the answered options is refused
(it would disclose data the verifier did not ask for) unless ``drop_optional`` is set, which
answers only the required sets and leaves every other choice out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sharing.dcql.errors import (
    CredentialNotAnOption,
    IncompleteSelection,
    InvalidSelection,
    MultipleNotAllowed,
    UnknownCredentialQuery,
)
from sharing.dcql.match import MatchResult, SelectedClaim
from wallet.formats.model import ClaimPath

__all__ = ["SelectedPresentation", "Selection", "select_for_response"]


@dataclass(frozen=True, slots=True)
class SelectedPresentation:
    """One presentation to build: a credential answering a query, and what it may reveal."""

    query_id: str
    credential_id: str
    format: str
    claims: tuple[SelectedClaim, ...]
    disclosure_paths: frozenset[ClaimPath]
    full_credential: bool
    holder_binding_required: bool


@dataclass(frozen=True, slots=True)
class Selection:
    """Everything that will be sent, in query order. Nothing outside it may be disclosed."""

    presentations: tuple[SelectedPresentation, ...]

    @property
    def query_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.query_id for p in self.presentations))

    def for_query(self, query_id: str) -> tuple[SelectedPresentation, ...]:
        return tuple(p for p in self.presentations if p.query_id == query_id)

    def disclosed_paths(self) -> dict[str, frozenset[ClaimPath]]:
        """Per credential id: the concrete claim paths sent (what the ledger records)."""
        out: dict[str, set[ClaimPath]] = {}
        for p in self.presentations:
            out.setdefault(p.credential_id, set()).update(c.path for c in p.claims)
        return {k: frozenset(v) for k, v in out.items()}


def _normalise(result: MatchResult, choices: Mapping[str, str | Sequence[str]]
               ) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for qid, chosen in choices.items():
        qm = result.queries.get(qid)
        if qm is None:
            raise UnknownCredentialQuery("a choice names a credential query that is not in the "
                                         "request", query_id=str(qid)[:64])
        ids = (chosen,) if isinstance(chosen, str) else tuple(chosen)
        if not ids or not all(isinstance(i, str) for i in ids):
            raise InvalidSelection("each choice must name one or more credential ids",
                                   query_id=qid)
        if len(set(ids)) != len(ids):
            raise InvalidSelection("a credential is chosen twice for one query", query_id=qid)
        if len(ids) > 1 and not qm.multiple:
            raise MultipleNotAllowed("this query accepts one credential only", query_id=qid)
        for cid in ids:
            if qm.option(cid) is None:
                raise CredentialNotAnOption("the chosen credential does not match this query",
                                            query_id=qid)
        out[qid] = ids
    return out


def _kept_queries(result: MatchResult, chosen: set[str], drop_optional: bool) -> set[str]:
    if result.query.credential_sets is None:
        missing = [q for q in result.queries if q not in chosen]
        if missing:
            raise IncompleteSelection("every credential query must be answered",
                                      query_ids=missing)
        return chosen
    keep: set[str] = set()
    for cs in result.credential_sets:
        answered = next((opt for opt in cs.options if chosen.issuperset(opt)), None)
        if answered is None:
            if cs.required:
                raise IncompleteSelection("a required credential set is not answered",
                                          credential_set=cs.index)
            continue
        if cs.required or not drop_optional:
            keep.update(answered)
    stray = chosen - keep
    if stray and not drop_optional:
        raise IncompleteSelection("a choice answers no complete credential set option",
                                  query_ids=sorted(stray))
    return keep


def select_for_response(result: MatchResult, choices: Mapping[str, str | Sequence[str]], *,
                        drop_optional: bool = False) -> Selection:
    """Check the learner's ``choices`` (query id → credential id or ids) against ``result``.

    Raises an :class:`~sharing.dcql.errors.InvalidSelection` subclass when the choice is not
    allowed; an unsatisfiable request raises :class:`IncompleteSelection` (answer it with
    ``access_denied`` instead).
    """
    if not result.satisfiable:
        raise IncompleteSelection("the request cannot be satisfied by the learner's credentials")
    normalised = _normalise(result, choices)
    keep = _kept_queries(result, set(normalised), drop_optional)
    out = []
    for cq in result.query.credentials:
        if cq.id not in keep:
            continue
        qm = result.queries[cq.id]
        for cid in normalised[cq.id]:
            opt = qm.option(cid)
            assert opt is not None  # checked in _normalise
            out.append(SelectedPresentation(cq.id, cid, cq.format, opt.claims,
                                            opt.disclosure_paths, opt.full_credential,
                                            cq.require_cryptographic_holder_binding))
    return Selection(tuple(out))
