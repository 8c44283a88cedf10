"""Why a presentation request finds nothing when the only fitting credential is a PDF.

OpenID4VP has no PDF credential format (1.0 Appendix B defines SD-JWT VC, mdoc, VC-JWT/JSON-LD):
a signed PDF cannot be presented, however well it fits. A query left unmatched is therefore
evaluated once more against the learner's PDF credentials as if they were of the query's format
(their types and the claims read from the document); where one would fit, the answer says so
(``reason: "pdf_not_presentable"``) instead of a bare "nothing matched". A credential attached
to such a PDF is stored as a credential of its own and matched like any other, so that is what
the learner can present.
"""

from __future__ import annotations

from collections.abc import Sequence

from sharing.dcql import Candidate, DcqlQuery, MatchResult, match_query
from sharing.request_results import PdfOnly
from wallet.formats.model import PDF_FORMAT
from wallet.vault import CredentialQuery, LearnerVault, StoredCredential

__all__ = ["PDF_NOT_PRESENTABLE", "pdf_only_queries", "pdf_credentials"]

PDF_NOT_PRESENTABLE = "pdf_not_presentable"
_DETAIL = ("only a PDF credential fits this query, and OpenID4VP cannot carry a PDF; share the "
           "PDF by link instead, or present a credential attached to it")
_LIMIT = 200  # PDFs considered per request: a vault of documents stays cheap to ask


async def pdf_credentials(vault: LearnerVault) -> list[StoredCredential]:
    page = await vault.credentials.list(CredentialQuery(format=PDF_FORMAT), limit=_LIMIT)
    return list(page.items)


def pdf_only_queries(query: DcqlQuery, result: MatchResult,
                     pdfs: Sequence[StoredCredential]) -> dict[str, PdfOnly]:
    """Per unmatched query id that a PDF would satisfy: the reason and those PDFs' ids."""
    unmatched = [cq for cq in query.credentials if not result.queries[cq.id].matched]
    if not unmatched or not pdfs:
        return {}
    candidates = []
    for fmt in {cq.format for cq in unmatched}:
        for c in pdfs:
            claims = c.data.get("claims")
            # holder binding is not asked of the stand-in: the question is only whether the
            # document fits, and it cannot be presented either way
            candidates.append(Candidate(c.id, fmt, frozenset(c.types),
                                        claims if isinstance(claims, dict) else {},
                                        holder_bound=True))
    as_if = match_query(query, candidates)
    out: dict[str, PdfOnly] = {}
    for cq in unmatched:
        qm = as_if.queries[cq.id]
        if qm.matched:
            out[cq.id] = PdfOnly(PDF_NOT_PRESENTABLE, _DETAIL,
                                 tuple(sorted({o.credential_id for o in qm.options})))
    return out
