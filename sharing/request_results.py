"""What the presentation service returns: a request described to the learner, the requests
listed, and how an answer went (typed; the HTTP API shapes them in
``holder_api.serialise.presentations``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sharing.dcql import MatchResult

__all__ = ["Declined", "PdfOnly", "RequestDescription", "RequestSummary", "Sent", "Verifier"]


@dataclass(frozen=True, slots=True)
class Verifier:
    """Who asks, as far as the request shows it (sealed with the request at intake)."""

    client_id: str
    name: str
    name_source: str  # trust_list | verifier (its own metadata) | client_id
    authenticated: bool  # the request was signed by a key bound to its client_id
    trusted: bool  # the trust list vouches for it (and it is authenticated)
    prefix: str  # the client identifier prefix (redirect_uri, x509_san_dns, ...)
    response_uri: str | None

    def to_record(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "name": self.name, "name_source": self.name_source,
                "authenticated": self.authenticated, "trusted": self.trusted,
                "prefix": self.prefix, "response_uri": self.response_uri}

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Verifier:
        return cls(r["client_id"], r["name"], r["name_source"], r["authenticated"], r["trusted"],
                   r["prefix"], r.get("response_uri"))


@dataclass(frozen=True, slots=True)
class RequestDescription:
    """A request as the learner decides on it: who asks, why, and what would be disclosed."""

    id: str
    verifier: Verifier
    purpose: str | None
    match: MatchResult  # per query, the learner's credentials that answer it
    required: frozenset[str]  # the query ids every answer must include
    state: str  # pending | sent | declined | failed
    expires_at: str
    #: unmatched query ids that only a PDF credential fits (sharing.pdf_requests)
    pdf_only: Mapping[str, PdfOnly] = field(default_factory=dict)
    #: the verifier's name in other languages, language tag -> name, when its name is its own
    #: (``client_name#<tag>`` of its metadata; never beside a trust list's name)
    verifier_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PdfOnly:
    """Why an unmatched query found nothing: a PDF fits it, and OpenID4VP cannot carry one."""

    reason: str  # pdf_not_presentable
    detail: str
    pdf_credential_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RequestSummary:
    id: str
    verifier: Verifier | None
    purpose: str | None
    state: str | None
    created_at: str | None
    expires_at: str | None


@dataclass(frozen=True, slots=True)
class Sent:
    redirect_uri: str | None  # where the verifier wants the learner's browser next
    event_id: str  # the answer's ledger entry (``presentation_sent``): its receipt


@dataclass(frozen=True, slots=True)
class Declined:
    delivered: bool  # the verifier got the access_denied answer (the decline stands anyway)
    event_id: str  # the answer's ledger entry (``presentation_declined``): its receipt
