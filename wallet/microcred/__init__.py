"""Micro-credentials: the Annex I view of any held learning credential, stacks and the portfolio.

Spec: Council Recommendation of 16 June 2022 on a European approach to micro-credentials
(2022/C 243/02), Annex I; mapped from ELM v3/EDC, Open Badges 3.0, CLR 2.0 and SD-JWT VC learning
credentials. Pure: no I/O, no storage, no HTTP. The API layer calls :func:`map_elements` for
``GET /v1/credentials/{id}`` (``elements``), :func:`search_text` for ``?q=``, and
:func:`portfolio_items` + :func:`build_portfolio` for ``GET /v1/portfolio``.
"""

from wallet.microcred.errors import NotACredentialObject
from wallet.microcred.mapping import (
    FORMATS,
    detect_family,
    map_elements,
    search_text,
)
from wallet.microcred.model import (
    ELEMENT_KEYS,
    MANDATORY,
    Coverage,
    Element,
    ElementDocument,
    Elements,
    ElementsDocument,
)
from wallet.microcred.portfolio import (
    ContainedCredential,
    Portfolio,
    PortfolioEntry,
    PortfolioItem,
    Stack,
    StackRef,
    build_portfolio,
    map_clr_contained,
    portfolio_items,
    stack_keys,
)

__all__ = [
    "ELEMENT_KEYS",
    "FORMATS",
    "MANDATORY",
    "ContainedCredential",
    "Coverage",
    "Element",
    "ElementDocument",
    "Elements",
    "ElementsDocument",
    "NotACredentialObject",
    "Portfolio",
    "PortfolioEntry",
    "PortfolioItem",
    "Stack",
    "StackRef",
    "build_portfolio",
    "detect_family",
    "map_clr_contained",
    "map_elements",
    "portfolio_items",
    "search_text",
    "stack_keys",
]
