"""What the ``Link`` box was given: a credential offer or a presentation request.

Offers (OpenID4VCI 1.0 §4.1): ``openid-credential-offer://?credential_offer=…`` or
``…?credential_offer_uri=…`` (any scheme, https included), the offer JSON itself, or a bare https
URL serving it. Presentation requests (OpenID4VP 1.0 §5): ``openid4vp://`` / ``haip-vp://`` or an
https link whose query carries ``request_uri``, ``request`` or the request parameters. The services
validate everything; this only picks which one to ask.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, urlsplit

__all__ = ["classify"]

_OFFER_PARAMS = {"credential_offer", "credential_offer_uri"}
_REQUEST_PARAMS = {"request_uri", "request", "client_id", "response_type", "dcql_query",
                   "presentation_definition"}
_OFFER_SCHEMES = {"openid-credential-offer", "haip", "haip-vci"}
_REQUEST_SCHEMES = {"openid4vp", "haip-vp", "eudi-openid4vp", "mdoc-openid4vp"}


def classify(link: str) -> Literal["offer", "request", "unknown"]:
    text = link.strip()
    if text.startswith("{"):
        return "offer"
    try:
        parts = urlsplit(text)
        names = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True,
                                          max_num_fields=64)}
    except ValueError:
        return "unknown"
    scheme = parts.scheme.lower()
    # the parameters say what a link is before its scheme does: ``haip://`` is used for both
    # (HAIP), and ``haip://?client_id=…&request_uri=…`` is a presentation request
    if names & _OFFER_PARAMS:
        return "offer"
    if names & _REQUEST_PARAMS:
        return "request"
    if scheme in _OFFER_SCHEMES:
        return "offer"
    if scheme in _REQUEST_SCHEMES:
        return "request"
    if scheme == "https" and parts.hostname:
        return "offer"  # a bare https URL: the offer JSON is served there (§4.1.3)
    return "unknown"
