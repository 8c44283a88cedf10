"""What an institution may push to an inbox link, checked before it is sealed.

OpenID4VCI 1.0 §4.1 (https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html
#section-4.1): the inbox URL behaves like a wallet's credential offer endpoint, so it takes
``credential_offer`` (JSON by value) or ``credential_offer_uri`` (https, fetched only when the
learner accepts), in the query or a form body. An already issued credential comes as JSON
``{"credential": ...}``. Pure: no I/O; the shape is checked here (sizes, exactly one parameter,
offer structure), everything else (metadata, signatures) happens when the learner accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Required, TypedDict
from urllib.parse import parse_qs, urlencode

from wallet.errors import BadInput, PayloadTooLarge
from wallet.jsontext import parse_json
from wallet.oid4vci.offer import CredentialOffer, parse_offer_input

__all__ = ["MAX_PUSH_BYTES", "PushPayload", "parse_push"]

#: Largest push body accepted by the public endpoint (an SD-JWT VC with many disclosures fits).
MAX_PUSH_BYTES = 256 * 1024

class PushPayload(TypedDict, total=False):
    """What a push becomes, sealed to the learner's inbox key (a document)."""

    kind: Required[Literal["offer", "credential"]]
    offer: str | dict[str, Any]  # the offer JSON, or the offer URI to resolve when accepted
    credential: str | dict[str, Any]  # a credential as issued (compact, or a JSON-LD object)
    issuer: Required[str | None]
    link_id: str  # the inbox link it came through (added when sealed)

_OFFER_PARAMS = ("credential_offer", "credential_offer_uri")


def _from_params(params: Mapping[str, Sequence[str]]) -> PushPayload:
    present = [p for p in _OFFER_PARAMS if params.get(p)]
    if len(present) != 1 or len(params[present[0]]) != 1:
        raise BadInput("give exactly one credential_offer or credential_offer_uri")
    uri = "openid-credential-offer://?" + urlencode({present[0]: params[present[0]][0]})
    parsed = parse_offer_input(uri)  # typed 400 when malformed
    if isinstance(parsed, CredentialOffer):
        return {"kind": "offer", "offer": parsed.to_json(),
                "issuer": parsed.credential_issuer}
    return {"kind": "offer", "offer": uri, "issuer": None}


def _from_json(body: bytes) -> PushPayload:
    data = parse_json(body, BadInput("the body is not valid JSON"),
                      BadInput("the body has a string that is not Unicode text (a lone "
                               "surrogate)"))
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    if "credential" not in data:
        return _from_params({k: [v] for k, v in data.items()
                             if k in _OFFER_PARAMS and isinstance(v, str)}
                            | {k: [json.dumps(v)] for k, v in data.items()
                               if k == "credential_offer" and isinstance(v, dict)})
    if set(data) - {"credential"}:
        raise BadInput("a pushed credential comes alone: {credential}")
    cred = data["credential"]
    if not (isinstance(cred, str) and cred.strip()) and not (isinstance(cred, dict) and cred):
        raise BadInput("credential must be a non-empty string or object")
    issuer = None
    if isinstance(cred, dict):
        iss = cred.get("issuer")
        issuer = iss.get("id") if isinstance(iss, dict) else iss
    return {"kind": "credential", "credential": cred,
            "issuer": issuer if isinstance(issuer, str) else None}


def parse_push(query: Mapping[str, Sequence[str]], content_type: str,
               body: bytes) -> PushPayload:
    """The payload to seal: ``{kind: offer|credential, offer|credential, issuer}``.

    ``issuer`` is what the push *claims* (shown to the learner as such, never trusted).
    """
    if len(body) > MAX_PUSH_BYTES:
        raise PayloadTooLarge("the push is too large")
    if body and (content_type == "application/json" or content_type.endswith("+json")):
        return _from_json(body)
    if body and content_type == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), max_num_fields=8, strict_parsing=True)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput("the form body is malformed") from exc
        return _from_params(form)
    if body:
        raise BadInput("send a form, JSON, or query parameters")
    return _from_params(query)
